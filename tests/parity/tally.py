"""tests/parity/tally.py: the bookkeeping the PyTorch parity tests share: a count of checks
and failures, the relative closeness test they apply to every tensor, and the prefix filter
over parity_dump's keys ("init.", "weights.1.", "final.")."""


class Tally:
    """checks counted, failures printed as they happen, one summary line at the end"""

    def __init__(self, name, rtol):
        self.name, self.rtol = name, rtol
        self.checks = self.failures = 0

    def check(self, ok, message):
        """count one check; print message as a failure unless ok"""
        self.checks += 1
        if not ok:
            self.failures += 1
            print(f"FAIL {message}")

    def close(self, name, got, want, rtol=None):
        """max |got - want| <= rtol * max |want| (got None: absent from cnnc's dump)"""
        rtol = self.rtol if rtol is None else rtol
        if got is None:
            self.check(False, f"{name}: missing from cnnc's dump")
            return
        got = got.detach().double().reshape(want.shape)
        want = want.detach().double()
        scale = want.abs().max().item()
        err = (got - want).abs().max().item()
        rel = err / scale if scale > 0 else err
        self.check(rel <= rtol, f"{name}: relative difference {rel:.3g} > {rtol}")

    def done(self):
        """the summary line; the exit status"""
        print(f"{self.name}: {self.checks} checks, {self.failures} failed")
        return 1 if self.failures else 0


def state(t, prefix):
    """the tensors of t under prefix, with the prefix taken off"""
    return {k[len(prefix):]: v for k, v in t.items() if k.startswith(prefix)}
