"""What libosdp_cp.py and libosdp_pd.py share: log levels, JSON-lines
output that C code cannot corrupt, and the non-blocking channel object
libosdp's Python binding reads and writes through."""

import json
import os

import osdp_sys

LOG_LEVELS = {
    "emergency": osdp_sys.LOG_EMERG,
    "alert": osdp_sys.LOG_ALERT,
    "critical": osdp_sys.LOG_CRIT,
    "error": osdp_sys.LOG_ERROR,
    "warning": osdp_sys.LOG_WARNING,
    "notice": osdp_sys.LOG_NOTICE,
    "info": osdp_sys.LOG_INFO,
    "debug": osdp_sys.LOG_DEBUG,
}


class Out:
    """JSON lines on the real stdout; fd 1 itself is pointed at stderr so that
    nothing printed by C code can corrupt the stream."""

    def __init__(self):
        self.f = os.fdopen(os.dup(1), "w", buffering=1)
        os.dup2(2, 1)

    def emit(self, obj):
        self.f.write(json.dumps(obj) + "\n")
        self.f.flush()


class FdChannel:
    """The non-blocking read/write/flush object libosdp's binding calls.
    Must never raise: an exception here would surface as a C-level error."""

    def __init__(self, fd, chan_id=0):
        self.fd = fd
        self.id = chan_id  # PDs whose channels share an id share one bus
        self.calls = 0  # read()/write() calls so far (see the main loop)
        self.consumed = True  # did the last refresh() read or write?

    def read(self, max_bytes):
        self.calls += 1
        try:
            return os.read(self.fd, max_bytes)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:
            return b""

    def write(self, buf):
        self.calls += 1
        try:
            return os.write(self.fd, bytes(buf))
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            return -1

    def flush(self):
        pass
