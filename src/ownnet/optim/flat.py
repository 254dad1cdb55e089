"""``FlatParameters``: the data, gradients and optimizer state of several parameters as views of one
flat array each, so that one kernel updates them all (the GPU's optimizer step: one launch instead of
one per parameter)."""

from ownnet.backend import address, device_of, xp_of


class FlatParameters:
    """The data, the gradients and the optimizer state of several parameters, each as views of one
    flat array, so that one GPU kernel updates every parameter (one launch instead of one each).

    Building it copies the current values in and points every ``parameter.data``, ``parameter.grad``
    and state array at its view. ``intact(states)`` says whether every view is still in place: a model
    moved to another device or dtype, a new grad array, or loaded optimizer state breaks it, and the
    optimizer then builds a new one. ``publish(name, flat)`` makes ``flat`` the state array ``name`` of
    every parameter (as views).
    """

    def __init__(self, params, states):
        first = params[0].data
        xp, dtype = xp_of(first), first.dtype
        self.params, self.states, self.spans = params, states, []
        offset = 0
        for p in params:
            self.spans.append((offset, p.size, p.shape))
            offset += p.size
        self.size = offset
        self.data = self._gather(xp, dtype, [p.data for p in params])
        self.grad = self._gather(xp, dtype, [p.grad for p in params])  # .grad: lazily zeroed ones too
        for p, data, grad in zip(params, self._views(self.data), self._views(self.grad)):
            p.data, p.grad = data, grad
        self.state = {}
        for name in set.intersection(*(set(state) for state in states)):
            self.publish(name, self._gather(xp, dtype, [state[name] for state in states]))

    @staticmethod
    def possible(params):
        """One dtype and one device for all: a flat array can hold them."""
        first = params[0].data
        return all(p.data.dtype == first.dtype and device_of(p.data) == device_of(first)
                   for p in params)

    def _gather(self, xp, dtype, arrays):
        flat = xp.empty(self.size, dtype=dtype)
        for (offset, size, _), array in zip(self.spans, arrays):
            flat[offset:offset + size] = array.ravel()
        return flat

    def _views(self, flat):
        return [flat[offset:offset + size].reshape(shape) for offset, size, shape in self.spans]

    def publish(self, name, flat):
        self.state[name] = flat
        for state, view in zip(self.states, self._views(flat)):
            state[name] = view

    def intact(self, states):
        if states is not self.states:
            return False
        item, data, grad = self.data.itemsize, address(self.data), address(self.grad)
        flats = {name: address(flat) for name, flat in self.state.items()}
        for p, state, (offset, _, shape) in zip(self.params, states, self.spans):
            at = offset * item
            if (p.data.shape != shape or address(p.data) != data + at
                    or address(p._grad) != grad + at or state.keys() != flats.keys()):
                return False
            if any(address(state[name]) != flats[name] + at for name in flats):
                return False
        return True
