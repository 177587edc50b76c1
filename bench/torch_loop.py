"""bench/torch_loop.py: one epoch of the notebook's training loop and its test pass, as the
notebook writes them, and its log line; bench/notebook_train.py and bench/fashion_train.py
run their PyTorch baselines through it."""
import torch


def run_epoch(model, optimizer, criterion, train_loader, test_loader, batch_scheduler=None):
    """trains model for one pass over train_loader (stepping batch_scheduler, e.g. OneCycleLR,
    after each batch), then tests it on test_loader; returns (mean train loss, train correct,
    train images, mean test loss, test correct, test images)"""
    model.train()
    total_loss, correct, images = 0.0, 0, 0
    for inputs, labels in train_loader:
        optimizer.zero_grad()
        outputs = model(inputs)
        correct += (outputs.argmax(1) == labels).sum().item()
        images += len(labels)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        if batch_scheduler is not None:
            batch_scheduler.step()
        total_loss += loss.item()
    model.eval()
    test_loss, test_correct, test_images = 0.0, 0, 0
    with torch.no_grad():
        for inputs, labels in test_loader:
            outputs = model(inputs)
            test_correct += (outputs.argmax(1) == labels).sum().item()
            test_images += len(labels)
            test_loss += criterion(outputs, labels).item()
    return (total_loss / len(train_loader), correct, images, test_loss / len(test_loader), test_correct,
            test_images)


def log_line(epoch, epochs, stats):
    """the notebook's line for epoch (from 0) of epochs"""
    loss, correct, images, test_loss, test_correct, test_images = stats
    return (f"Epoch {epoch + 1}/{epochs} - Train Loss: {loss:.4f}, Train Correct: {correct}/{images} - "
            f"Test Loss: {test_loss:.4f}, Test Correct: {test_correct}/{test_images}")
