#!/usr/bin/env python3
"""A libosdp Control Panel (CP) on an existing tty, driven by JSON lines.

Interop test helper for a PD under test (PyPI `libosdp`, import name
`osdp`/`osdp_sys`, pinned in requirements-test.txt).

Usage:
    libosdp_cp.py --tty PATH [--address 1 [--address 2 ...]] [--baud 9600]
                  [--bench SECONDS] [--interval 0.02] [--log-level warning]
                  [--scbk HEX32] [--keep-on-eof]

No secure channel by default (no SCBK given, so libosdp never sends osdp_CHLNG).
--scbk is only for experiments.

stdout (JSON lines, flushed; libosdp's own log goes to stderr):
    {"event": "online", "address": A}
    {"event": "offline", "address": A}
    {"event": "pd_id", "address": A, "vendor_code": n, "model": n, "version": n,
     "serial_number": n, "firmware_version": n}
    {"event": "pd_cap", "address": A, "capabilities": {"LEDControl": [1, 1], ...}}
    {"event": "card_read", "address": A, "reader": R, "format": "wiegand"|"raw"|
     "ascii"|n, "format_code": n, "bits": N, "data": "hex", "direction": d}
    {"event": "keypress", "address": A, "reader": R, "data": "hex"}
    {"event": "mfg_reply", "address": A, "vendor_code": n, "mfg_command": n, "data": "hex"}
    {"event": "status", "address": A, "type": n, ...}
    {"event": "notification", "address": A, "type": "command"|"sc_status"|
     "pd_status"|n, "arg0": n, "arg1": n}
    {"event": "submitted", "address": A, "command": "led", "ok": true}
    {"event": "bench", "seconds": S, "cpu_seconds": x, "online": [A, ...], ...}
    {"event": "error", "message": "..."}

stdin (JSON lines; fields not given take the defaults shown):
    {"led": {"address": A, "reader": 0, "led_number": 0, "control_code": 1,
             "on_count": 1, "off_count": 0, "on_color": 1, "off_color": 0,
             "temporary": false, "timer_count": 0}}
    {"buzzer": {"address": A, "reader": 0, "control_code": 2, "on_count": 1,
                "off_count": 1, "rep_count": 1}}
    {"output": {"address": A, "output_no": 0, "control_code": 1, "timer_count": 0}}
    {"text": {"address": A, "reader": 0, "control_code": 1, "temp_time": 0,
              "offset_row": 1, "offset_col": 1, "data": "hello"}}
    {"mfg": {"address": A, "vendor_code": [b0, b1, b2] | int, "data": "hex",
             "mfg_command": 0}}      vendor_code list = wire order (LE)
    {"status": {"address": A, "type": "local"|"input"|"output"|"remote"}}
    {"quit": true}
EOF on stdin exits too, except in --bench mode or with --keep-on-eof.
"""

import argparse
import json
import os
import resource
import select
import signal
import sys
import termios
import time
import tty

import osdp_sys

from osdp_io import LOG_LEVELS, FdChannel, Out

CAP_NAMES = {
    osdp_sys.CAP_CONTACT_STATUS_MONITORING: "ContactStatusMonitoring",
    osdp_sys.CAP_OUTPUT_CONTROL: "OutputControl",
    osdp_sys.CAP_CARD_DATA_FORMAT: "CardDataFormat",
    osdp_sys.CAP_READER_LED_CONTROL: "LEDControl",
    osdp_sys.CAP_READER_AUDIBLE_OUTPUT: "AudibleControl",
    osdp_sys.CAP_READER_TEXT_OUTPUT: "TextOutput",
    osdp_sys.CAP_TIME_KEEPING: "TimeKeeping",
    osdp_sys.CAP_CHECK_CHARACTER_SUPPORT: "CheckCharacter",
    osdp_sys.CAP_COMMUNICATION_SECURITY: "CommunicationSecurity",
    osdp_sys.CAP_RECEIVE_BUFFERSIZE: "ReceiveBufferSize",
    osdp_sys.CAP_LARGEST_COMBINED_MESSAGE_SIZE: "CombinedMessageSize",
    osdp_sys.CAP_SMART_CARD_SUPPORT: "SmartCard",
    osdp_sys.CAP_READERS: "Readers",
    osdp_sys.CAP_BIOMETRICS: "Biometrics",
    15: "SecurePinEntry",  # not exported by the 3.2.9 binding
    16: "OsdpVersion",
}

CARD_FORMAT_NAMES = {
    osdp_sys.CARD_FMT_RAW_UNSPECIFIED: "raw",
    osdp_sys.CARD_FMT_RAW_WIEGAND: "wiegand",
    osdp_sys.CARD_FMT_ASCII: "ascii",
}

NOTIF_NAMES = {
    osdp_sys.EVENT_NOTIFICATION_COMMAND: "command",
    osdp_sys.EVENT_NOTIFICATION_SC_STATUS: "sc_status",
    osdp_sys.EVENT_NOTIFICATION_PD_STATUS: "pd_status",
}

STATUS_TYPES = {
    "local": osdp_sys.STATUS_REPORT_LOCAL,
    "input": osdp_sys.STATUS_REPORT_INPUT,
    "output": osdp_sys.STATUS_REPORT_OUTPUT,
    "remote": osdp_sys.STATUS_REPORT_REMOTE,
}


def hexify(d):
    return {k: (bytes(v).hex() if isinstance(v, (bytes, bytearray)) else v)
            for k, v in d.items()}


def build_command(kind, spec):
    """JSON command spec -> libosdp command dict (plus the target address)."""
    g = lambda k, dflt: int(spec.get(k, dflt))  # noqa: E731
    if kind == "led":
        cmd = {
            "command": osdp_sys.CMD_LED,
            "reader": g("reader", 0),
            "led_number": g("led_number", 0),
            "control_code": g("control_code", 1),
            # libosdp 3.2.9's PD NAKs (code 9) a "set" with on and off
            # counts both 0, and its CP then drops the PD offline: default
            # to steady on.
            "on_count": g("on_count", 1),
            "off_count": g("off_count", 0),
            "on_color": g("on_color", osdp_sys.LED_COLOR_RED),
            "off_color": g("off_color", osdp_sys.LED_COLOR_NONE),
            "temporary": bool(spec.get("temporary", False)),
        }
        if cmd["temporary"]:
            cmd["timer_count"] = g("timer_count", 0)
        return cmd
    if kind == "buzzer":
        return {
            "command": osdp_sys.CMD_BUZZER,
            "reader": g("reader", 0),
            "control_code": g("control_code", 2),
            "on_count": g("on_count", 1),
            "off_count": g("off_count", 1),
            "rep_count": g("rep_count", 1),
        }
    if kind == "output":
        return {
            "command": osdp_sys.CMD_OUTPUT,
            "output_no": g("output_no", 0),
            "control_code": g("control_code", 1),
            "timer_count": g("timer_count", 0),
        }
    if kind == "text":
        return {
            "command": osdp_sys.CMD_TEXT,
            "reader": g("reader", 0),
            "control_code": g("control_code", 1),
            "temp_time": g("temp_time", 0),
            "offset_row": g("offset_row", 1),
            "offset_col": g("offset_col", 1),
            "data": str(spec.get("data", "")),
        }
    if kind == "mfg":
        vc = spec.get("vendor_code", 0)
        if isinstance(vc, list):
            if len(vc) != 3:
                raise ValueError("vendor_code list must have 3 bytes")
            vc = vc[0] | (vc[1] << 8) | (vc[2] << 16)
        return {
            "command": osdp_sys.CMD_MFG,
            "vendor_code": int(vc),
            "mfg_command": g("mfg_command", 0),
            "data": bytes.fromhex(spec.get("data", "")),
        }
    if kind == "status":
        t = spec.get("type", "local")
        return {
            "command": osdp_sys.CMD_STATUS,
            "type": STATUS_TYPES[t] if isinstance(t, str) else int(t),
            "nr_entries": g("nr_entries", 0),
            "mask": g("mask", 0),
        }
    raise KeyError(kind)


def wait_readable(fd, channel, stdin_fd, timeout):
    """Sleep until the tty or stdin has input, at most `timeout` seconds.
    The tty only wakes us while libosdp is using it (it read or wrote in the
    last refresh, e.g. a command is out and the reply is awaited): a tty that
    is hung up, or has bytes libosdp is not asking for (e.g. PD offline),
    would otherwise make the loop spin."""
    p = select.poll()
    watch_tty = channel.consumed
    if watch_tty:
        p.register(fd, select.POLLIN)
    if stdin_fd is not None:
        p.register(stdin_fd, select.POLLIN)
    if not watch_tty and stdin_fd is None:
        time.sleep(timeout)
        return []
    t_end = time.monotonic() + timeout
    ready = []
    for rfd, ev in p.poll(timeout * 1000):
        if rfd == fd and ev & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
            continue
        ready.append(rfd)
    if not ready:
        left = t_end - time.monotonic()
        if left > 0:
            # woke for a hang-up only: wait out the interval (on stdin if any)
            if stdin_fd is not None:
                r, _, _ = select.select([stdin_fd], [], [], left)
                return r
            time.sleep(left)
    return ready


COMMAND_KINDS = ("led", "buzzer", "output", "text", "mfg", "status")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tty", required=True)
    ap.add_argument("--address", type=int, action="append",
                    help="PD address (repeatable); default 1")
    ap.add_argument("--baud", type=int, default=9600)
    ap.add_argument("--bench", type=float, metavar="SECONDS",
                    help="run this long, then print a bench line and exit")
    ap.add_argument("--interval", type=float, default=0.02,
                    help="max seconds between refresh() calls (the binding asks "
                    "for <=50ms; its own refresh thread sleeps 20ms); incoming "
                    "bytes wake the loop at once")
    ap.add_argument("--log-level", default="warning", choices=sorted(LOG_LEVELS))
    ap.add_argument("--scbk", help="32 hex chars: enable secure channel (experiments only)")
    ap.add_argument("--keep-on-eof", action="store_true")
    args = ap.parse_args()
    addresses = args.address or [1]
    if len(set(addresses)) != len(addresses):
        ap.error("duplicate --address")

    out = Out()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    fd = os.open(args.tty, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd, termios.TCSANOW)
    channel = FdChannel(fd)

    osdp_sys.set_loglevel(LOG_LEVELS[args.log_level])
    infos = []
    for a in addresses:
        info = {
            "name": "pd-%d" % a,
            "address": a,
            "baud_rate": args.baud,
            "flags": osdp_sys.FLAG_ENABLE_NOTIFICATION,
            "channel": channel,  # same object (same id) = one shared bus
        }
        if args.scbk:
            info["scbk"] = bytes.fromhex(args.scbk)
        infos.append(info)
    cp = osdp_sys.ControlPanel(infos)

    counters = {"card_read": 0, "events": 0}

    def on_event(pd_idx, ev):
        counters["events"] += 1
        addr = addresses[pd_idx]
        et = ev.get("event")
        if et == osdp_sys.EVENT_CARDREAD:
            counters["card_read"] += 1
            fmt = ev.get("format")
            line = {
                "event": "card_read", "address": addr,
                "reader": ev.get("reader_no"),
                "format": CARD_FORMAT_NAMES.get(fmt, fmt),
                "format_code": fmt,
                "bits": ev.get("length"),
                "data": bytes(ev.get("data", b"")).hex(),
                "direction": ev.get("direction"),
            }
            if line["bits"] is None:  # ASCII format: length is bytes
                line["bits"] = 8 * len(ev.get("data", b""))
        elif et == osdp_sys.EVENT_KEYPRESS:
            line = {"event": "keypress", "address": addr,
                    "reader": ev.get("reader_no"),
                    "data": bytes(ev.get("data", b"")).hex()}
        elif et == osdp_sys.EVENT_MFGREP:
            line = {"event": "mfg_reply", "address": addr}
            line.update(hexify({k: v for k, v in ev.items() if k != "event"}))
        elif et == osdp_sys.EVENT_STATUS:
            line = {"event": "status", "address": addr}
            line.update(hexify({k: v for k, v in ev.items() if k != "event"}))
        elif et == osdp_sys.EVENT_NOTIFICATION:
            t = ev.get("type")
            line = {"event": "notification", "address": addr,
                    "type": NOTIF_NAMES.get(t, t),
                    "arg0": ev.get("arg0"), "arg1": ev.get("arg1")}
        else:
            line = {"event": "other", "address": addr}
            line.update(hexify(ev))
        out.emit(line)
        return 0

    cp.set_event_callback(on_event)

    def report_pd(idx):
        a = addresses[idx]
        try:
            pid = cp.get_pd_id(idx)
            line = {"event": "pd_id", "address": a}
            line.update(pid)
            out.emit(line)
        except Exception as e:  # noqa: BLE001
            out.emit({"event": "error", "message": "get_pd_id: %s" % e})
        caps = {}
        for fc, name in CAP_NAMES.items():
            try:
                cl, n = cp.check_capability(idx, fc)
            except Exception:  # noqa: BLE001
                continue
            if cl or n:
                caps[name] = [cl, n]
        out.emit({"event": "pd_cap", "address": a, "capabilities": caps})

    def handle(line):
        line = line.strip()
        if not line:
            return True
        try:
            msg = json.loads(line)
        except ValueError as e:
            out.emit({"event": "error", "message": "bad json: %s" % e})
            return True
        if not isinstance(msg, dict):
            out.emit({"event": "error", "message": "expected a JSON object"})
            return True
        if msg.get("quit"):
            return False
        for kind in COMMAND_KINDS:
            if kind in msg:
                spec = msg[kind] or {}
                addr = int(spec.get("address", addresses[0]))
                try:
                    idx = addresses.index(addr)
                    cmd = build_command(kind, spec)
                    ok = bool(cp.submit_command(idx, cmd))
                except (KeyError, ValueError, TypeError) as e:
                    out.emit({"event": "error", "message": "%s: %s" % (kind, e)})
                    return True
                out.emit({"event": "submitted", "address": addr,
                          "command": kind, "ok": ok})
                return True
        out.emit({"event": "error", "message": "unknown input: %s" % line[:200]})
        return True

    t_start = time.monotonic()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    deadline = t_start + args.bench if args.bench is not None else None
    online_mask = 0
    stdin_fd = sys.stdin.fileno()
    stdin_open = True
    keep_on_eof = args.keep_on_eof or args.bench is not None
    buf = b""
    running = True
    refreshes = 0
    while running:
        calls_before = channel.calls
        cp.refresh()
        channel.consumed = channel.calls != calls_before
        refreshes += 1
        mask = cp.status()
        if mask != online_mask:
            for i, a in enumerate(addresses):
                bit = 1 << i
                if (mask & bit) and not (online_mask & bit):
                    out.emit({"event": "online", "address": a})
                    report_pd(i)
                elif (online_mask & bit) and not (mask & bit):
                    out.emit({"event": "offline", "address": a})
            online_mask = mask
        timeout = args.interval
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            timeout = min(timeout, left)
        r = wait_readable(fd, channel, stdin_fd if stdin_open else None, timeout)
        if stdin_fd in r:
            chunk = os.read(stdin_fd, 65536)
            if not chunk:
                stdin_open = False
                if not keep_on_eof:
                    break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if not handle(line.decode("utf-8", "replace")):
                    running = False
                    break

    if args.bench is not None:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        out.emit({
            "event": "bench",
            "seconds": round(time.monotonic() - t_start, 3),
            "cpu_seconds": round(ru.ru_utime + ru.ru_stime, 3),
            "user_seconds": round(ru.ru_utime, 3),
            "sys_seconds": round(ru.ru_stime, 3),
            # excluding interpreter start-up and CP setup:
            "loop_cpu_seconds": round(ru.ru_utime + ru.ru_stime
                                      - ru0.ru_utime - ru0.ru_stime, 3),
            "online": [a for i, a in enumerate(addresses) if cp.status() & (1 << i)],
            "refreshes": refreshes,
            "card_reads": counters["card_read"],
            "interval": args.interval,
        })
    os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
