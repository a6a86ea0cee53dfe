"""Run-time support of built modules (copied into each package as
``_aotgraph_runtime.py``; needs numpy and cffi only).

A built function binds its arguments with the reference backend's own
checks (``_aotgraph_callcheck``), passes data pointers and shapes/strides to
the C entry point in one FFI call (cffi releases the GIL), and wraps the
returned heap buffers as numpy arrays without copying.  Functions that
update shared variables hold a module-wide lock for the call and apply the
updates after all values are computed from the pre-call values.
"""

import math
import threading

import numpy as np

#: C error code -> Python exception (runtime_c/ag_runtime.h, enum ag_status)
#: Outputs up to this size are copied into a fresh array instead of adopted.
_COPY_LIMIT = 4096
_ERR_LAYOUT = 6  # AG_ERR_LAYOUT
ERRORS = {1: ValueError, 2: IndexError, 3: TypeError, 4: MemoryError, 5: RuntimeError}
#: AG_ABI_VERSION of the C runtime this file drives (runtime_c/ag_runtime.h).
ABI_VERSION = 1
#: Where the CPU's feature flags are read (``$AOTGRAPH_CPUINFO`` overrides it).
CPUINFO = "/proc/cpuinfo"


def cpu_flags():
    """The feature flags of this CPU (the ``flags`` line of /proc/cpuinfo,
    or of the file ``$AOTGRAPH_CPUINFO`` names), or None where unknown."""
    import os

    path = os.environ.get("AOTGRAPH_CPUINFO") or CPUINFO
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() == "flags":
                    return set(value.split())
    except OSError:
        return None
    return None


def check_compatible(module, build_info):
    """Refuse, before the extension is loaded, a module built for another C
    ABI or for CPU features this machine lacks (loading it could end in
    SIGILL).  Raises ImportError saying what is missing and how to fix it."""
    built_abi = build_info.get("c_abi_version")
    if built_abi != ABI_VERSION:
        raise ImportError(
            f"{module}: built for C ABI version {built_abi} but its runtime "
            f"(_aotgraph_runtime.py) speaks version {ABI_VERSION}; rebuild the module "
            "with `python -m aotgraph compile` from one aotgraph version"
        )
    required = build_info.get("cpu_features") or []
    have = cpu_flags() if required else None
    if have is None:
        return
    missing = sorted(set(required) - have)
    if missing:
        raise ImportError(
            f"{module}: this CPU lacks the instruction-set extension(s) {', '.join(missing)} "
            f"that the module was compiled for ({build_info.get('isa')}); rebuild it on this "
            "machine or without --native (the portable default)"
        )


def check_extension_abi(module, lib, build_info):
    """Refuse an extension whose compiled-in C runtime differs from ``build_info``."""
    try:
        found = lib.ag_abi_version()
    except AttributeError:
        found = None
    if found != build_info.get("c_abi_version"):
        raise ImportError(
            f"{module}: its extension has C ABI version {found}, the package expects "
            f"{build_info.get('c_abi_version')}; the files of the package come from different "
            "builds: rebuild the module with `python -m aotgraph compile`"
        )


class SharedValue:
    """A shared variable of a built module: ``get_value`` / ``set_value``
    with the borrow semantics of ``aotgraph.shared``.  Until the first
    update or ``set_value`` the value is the read-only data embedded in the
    extension (``get_value(borrow=True)`` then returns a read-only array)."""

    def __init__(self, name, dtype, shape, value):
        self.name = name
        self.dtype = np.dtype(dtype)
        self.shape = tuple(shape)
        self._value = value

    def get_value(self, borrow=False):
        """The current value (a copy unless ``borrow=True``)."""
        return self._value if borrow else self._value.copy()

    def set_value(self, value, borrow=False):
        """Replace the value; its dtype must cast safely and its shape fit."""
        arr = np.asarray(value) if borrow else np.array(value, copy=True)
        if arr.dtype != self.dtype:
            if not np.can_cast(arr.dtype, self.dtype, casting="same_kind"):
                raise TypeError(
                    f"set_value of shared variable {self.name!r}: dtype {arr.dtype} "
                    f"cannot be stored as {self.dtype}"
                )
            arr = arr.astype(self.dtype)
        self._check_shape(arr.shape, "set_value")
        self._value = arr

    def _check_shape(self, shape, where):
        ok = len(shape) == len(self.shape) and all(
            s is None or s == d for s, d in zip(self.shape, shape)
        )
        if not ok:
            want = "(" + ", ".join("?" if s is None else str(s) for s in self.shape) + ")"
            raise ValueError(
                f"{where} of shared variable {self.name!r}: shape {tuple(shape)} "
                f"does not fit {self.dtype}{want}"
            )

    def __repr__(self):
        return f"<shared {self.name}: {self.dtype}{self._value.shape}>"


class CompiledFunction:
    """One function of a built module: ``fn(*arrays)`` returns numpy arrays."""

    def __init__(self, spec, ffi, lib, shared, update_lock, callcheck):
        self.name = spec["name"]
        self.input_names = [i["name"] for i in spec["inputs"]]
        self._inputs = [(i["name"], i["dtype"], tuple(i["shape"])) for i in spec["inputs"]]
        self._allow_downcast = spec["allow_input_downcast"]
        self._result_dtypes = [np.dtype(d) for d in spec["results"]]
        self._results = list(zip(self._result_dtypes, spec["result_ndims"]))
        self._n_outputs = spec["n_outputs"]
        self._single = spec["single_output"]
        self._shared = [shared[n] for n in spec["shared"]]
        self._updates = [shared[n] for n in spec["updates"]]
        self._entry = getattr(lib, spec["symbol"])
        self._ffi, self._free = ffi, lib.ag_free
        self._lock = update_lock
        self._callcheck = callcheck
        self._n_args = len(self._inputs) + len(self._shared)
        self._n_meta = spec["n_meta"]
        self._tls = threading.local()
        self.__doc__ = spec.get("doc")

    def __call__(self, *args, **kwargs):
        check = self._callcheck
        args = check.bind_args(self.name, self.input_names, args, kwargs)
        arrays = [
            check.convert_input(self.name, n, a, dt, sh, self._allow_downcast)
            for (n, dt, sh), a in zip(self._inputs, args)
        ]
        return self.call_converted(arrays)

    def call_converted(self, arrays):
        """Run on input arrays already checked and converted by
        ``convert_input`` (anything else may give wrong shapes to C)."""
        if not self._updates:
            values = [s.get_value(borrow=True) for s in self._shared]
            results = self._run(arrays + values)
        else:
            with self._lock:
                values = [s.get_value(borrow=True) for s in self._shared]
                results = self._run(arrays + values)
                new = results[self._n_outputs :]
                for target, value in zip(self._updates, new):
                    _check_update(self.name, target, value)
                for target, value in zip(self._updates, new):
                    target.set_value(value, borrow=True)
        outs = results[: self._n_outputs]
        return outs[0] if self._single else outs

    def _frame(self):
        """This thread's reusable call frame (pointers, meta, outputs, error):
        a thread runs one call of a function at a time, so reuse is safe."""
        try:
            return self._tls.frame
        except AttributeError:
            ffi = self._ffi
            frame = (
                ffi.new("void *[]", max(self._n_args, 1)),
                ffi.new("int64_t[]", max(self._n_meta, 1)),
                ffi.new("ag_buffer[]", max(len(self._result_dtypes), 1)),
                ffi.new("ag_error *"),
            )
            self._tls.frame = frame
            return frame

    def _run(self, arrays):
        """One FFI call: data pointers plus shapes and byte strides in, heap
        buffers out (wrapped by :meth:`_wrap`)."""
        ffi = self._ffi
        try:
            data, meta, outs, err = self._tls.frame
        except AttributeError:
            data, meta, outs, err = self._frame()
        dims, i = (), 0
        for a in arrays:
            try:
                data[i] = ffi.from_buffer(a)
            except (BufferError, ValueError):  # not C-contiguous: pass its address and strides
                data[i] = ffi.cast("void *", a.__array_interface__["data"][0])
            dims += a.shape + a.strides
            i += 1
        if dims:
            meta[0 : len(dims)] = dims
        rc = self._entry(data, meta, outs, err)
        if rc:
            if rc == _ERR_LAYOUT:  # misaligned, or strides not whole elements: copy
                return self._run([np.array(a, order="C", copy=True) for a in arrays])
            raise _c_error(self.name, rc, ffi.string(err.message).decode("utf-8", "replace"))
        results, k = [], 0
        for dtype, ndim in self._results:
            results.append(self._wrap(outs[k], dtype, ndim))
            k += 1
        return results

    def _wrap(self, buf, dtype, ndim):
        """A numpy array owning the heap block C returned: small ones are
        copied (cheaper than a finalizer), large ones adopted without a copy."""
        ffi = self._ffi
        shape = tuple(buf.shape[0:ndim])
        nbytes = math.prod(shape) * dtype.itemsize
        ptr = buf.data
        if ptr == ffi.NULL:
            return np.zeros(shape, dtype)
        if nbytes <= _COPY_LIMIT:
            arr = np.empty(shape, dtype)
            if nbytes:
                ffi.memmove(arr, ptr, nbytes)
            self._free(ptr)
            return arr
        owner = ffi.gc(ffi.cast("char *", ptr), self._free)
        return np.frombuffer(ffi.buffer(owner, nbytes), dtype).reshape(shape)

    def __repr__(self):
        return f"<compiled function {self.name}({', '.join(self.input_names)})>"

    def __reduce__(self):
        """Pickle by reference (module name + function name), so the function
        travels to processes, e.g. Dask workers, that have the module installed."""
        package = __name__.rpartition(".")[0]  # the copy's __name__ is "<module>._aotgraph_runtime"
        if not package or package.split(".")[0] == "aotgraph":
            raise TypeError(f"cannot pickle {self!r}: only functions of built modules pickle")
        return (_function_by_name, (package, self.name))


def _function_by_name(module, name):
    """Function ``name`` of built module ``module`` (what unpickling calls)."""
    import importlib

    return getattr(importlib.import_module(module), name)


def _check_update(fname, target, value):
    try:
        target._check_shape(value.shape, f"{fname}: update")
    except AttributeError:  # an aotgraph SharedVariable (in-process functions)
        if not target.type.accepts_shape(value.shape):
            raise ValueError(
                f"{fname}: update of shared variable {target!r}: new value of shape "
                f"{value.shape} does not fit {target.type.short()}"
            ) from None


def _c_error(fname, code, message):
    exc = ERRORS.get(code, RuntimeError)
    if not message.startswith(fname + ":"):
        message = f"{fname}: {message}"
    return exc(message)


def format_profile(fname, rows) -> str:
    """A table of ``(label, calls, seconds)`` rows, slowest first, with each
    row's share of the total."""
    rows = sorted(rows, key=lambda r: (-r[2], r[0]))
    total = sum(r[2] for r in rows)
    lines = [
        f"profile of {fname}: {len(rows)} nodes, {total:.6f} s in total",
        f"  {'op':<34} {'calls':>7} {'total s':>11} {'%':>6}",
    ]
    for label, calls, seconds in rows:
        share = 100.0 * seconds / total if total > 0 else 0.0
        short = label if len(label) <= 34 else label[:31] + "..."
        lines.append(f"  {short:<34} {calls:>7} {seconds:>11.6f} {share:>6.1f}")
    return "\n".join(lines) + "\n"


class BuiltModule:
    """Everything a generated ``__init__.py`` exposes, built from its tables."""

    def __init__(self, ffi, lib, functions, shared, callcheck):
        self.ffi, self.lib = ffi, lib
        self._specs = functions
        self.shared = {}
        for name, s in sorted(shared.items()):
            self.shared[name] = SharedValue(name, s["dtype"], s["shape"], self._blob_array(s))
        self.update_lock = threading.RLock()
        self.functions = {
            name: CompiledFunction(spec, ffi, lib, self.shared, self.update_lock, callcheck)
            for name, spec in functions.items()
        }

    def blob(self, name):
        """The bytes of embedded blob ``name`` (a read-only memoryview)."""
        size = self.ffi.new("size_t *")
        ptr = self.lib.agm_blob(name.encode(), size)
        if ptr == self.ffi.NULL:
            raise KeyError(name)
        return memoryview(self.ffi.buffer(ptr, size[0])).toreadonly()

    def _blob_array(self, s):
        if s["value"] is None:
            return np.zeros([d or 0 for d in s["shape"]], s["dtype"])
        dtype = np.dtype(s["dtype"]).newbyteorder("<")
        arr = np.frombuffer(self.blob(s["value"]), dtype).reshape(s["value_shape"])
        return arr.astype(arr.dtype.newbyteorder("="), copy=False)

    def save(self, path):
        """Write every shared value to ``path`` (.npz)."""
        np.savez(path, **{n: s.get_value(borrow=True) for n, s in self.shared.items()})

    def load(self, path):
        """Read shared values saved by :meth:`save` (all or nothing)."""
        with np.load(path, allow_pickle=False) as data:
            missing = sorted(set(self.shared) - set(data.files))
            if missing:
                raise KeyError(f"load: {path} has no value for shared variable(s) {missing}")
            values = {n: data[n] for n in self.shared}
        for name, value in values.items():
            probe = SharedValue(name, self.shared[name].dtype, self.shared[name].shape, None)
            probe.set_value(value, borrow=True)
            values[name] = probe._value
        with self.update_lock:
            for name, value in values.items():
                self.shared[name]._value = value

    def set_num_threads(self, n):
        """Threads each call may use (``n <= 0``: the default)."""
        self.lib.ag_set_num_threads(int(n))

    def profile_report(self, file=None):
        """Profile builds (``compile --profile``): time per node of every
        function since import, slowest first; printed to ``file`` (default
        stdout) or only returned when ``file="str"``."""
        import sys

        parts = []
        for name, spec in sorted(self._specs.items()):
            labels = spec.get("profile_labels")
            if labels is None:
                continue
            n = max(len(labels), 1)
            ns, calls = self.ffi.new("int64_t[]", n), self.ffi.new("int64_t[]", n)
            getattr(self.lib, spec["symbol"] + "_profile")(ns, calls, n)
            parts.append(
                format_profile(
                    name, [(label, int(calls[k]), ns[k] * 1e-9) for k, label in enumerate(labels)]
                )
            )
        text = "".join(parts) or "no function of this module was built with --profile\n"
        if file != "str":
            (file or sys.stdout).write(text)
        return text
