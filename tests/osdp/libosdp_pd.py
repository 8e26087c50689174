#!/usr/bin/env python3
"""One libosdp Peripheral Device (PD) on a pseudo-terminal, driven by JSON lines.

Interop test helper: a control panel (CP) under test opens the pty slave this
script creates and talks OSDP to a real libosdp PD (PyPI `libosdp`, import
name `osdp`/`osdp_sys`, pinned in requirements-test.txt).

Usage:
    libosdp_pd.py [--address 1] [--log-level warning] [--keep-on-eof]

stdout (JSON lines, flushed after each line; libosdp's own log goes to stderr):
    {"tty": "/dev/pts/N"}                    first line: the path a CP opens
    {"online": true} / {"online": false}     libosdp's PD-side online flag changed
    {"command": "led", "command_id": 2, ...} every command the PD app is handed
                                             (led, buzzer, output, text, mfg,
                                             comset, keyset, status, ...), with
                                             every field libosdp gives; bytes
                                             fields as hex strings
    {"submitted": "card", "ok": true}        answer to a "card" line
    {"error": "..."}                         bad input line (the PD keeps going)

stdin (JSON lines):
    {"card": {"bits": 26, "data": "hex MSB first", "format": "wiegand"|"raw",
              "reader": 0}}                  queue a card read (osdp_RAW reply to
                                             the next POLL)
    {"quit": true}                           exit 0
EOF on stdin also exits 0 unless --keep-on-eof.

No secure channel: no SCBK, neither ENFORCE_SECURE nor INSTALL_MODE, so a CP that
never sends osdp_CHLNG gets the PD online after ID and CAP.
"""

import argparse
import json
import os
import select
import signal
import sys
import termios
import tty

import osdp_sys

from osdp_io import LOG_LEVELS, FdChannel, Out

COMMAND_NAMES = {
    osdp_sys.CMD_OUTPUT: "output",
    osdp_sys.CMD_LED: "led",
    osdp_sys.CMD_BUZZER: "buzzer",
    osdp_sys.CMD_TEXT: "text",
    osdp_sys.CMD_KEYSET: "keyset",
    osdp_sys.CMD_COMSET: "comset",
    osdp_sys.CMD_COMSET_DONE: "comset_done",
    osdp_sys.CMD_MFG: "mfg",
    osdp_sys.CMD_FILE_TX: "file_tx",
    osdp_sys.CMD_STATUS: "status",
}

CARD_FORMATS = {
    "raw": osdp_sys.CARD_FMT_RAW_UNSPECIFIED,
    "unspecified": osdp_sys.CARD_FMT_RAW_UNSPECIFIED,
    "wiegand": osdp_sys.CARD_FMT_RAW_WIEGAND,
}

# PD identity reported in osdp_PDID. Kept below 2**31: the binding parses
# these as C ints.
PD_ID = {
    "vendor_code": 0x00A1B2C3 & 0xFFFFFF,  # 3 bytes on the wire (LE)
    "model": 0x11,
    "version": 0x22,
    "serial_number": 0x01020304,
    "firmware_version": 0x00030201,  # major 3, minor 2, build 1 on the wire
}

# (function code, compliance level, number of items) -> osdp_PDCAP.
PD_CAPS = [
    (osdp_sys.CAP_OUTPUT_CONTROL, 1, 1),
    (osdp_sys.CAP_CARD_DATA_FORMAT, 1, 1),
    (osdp_sys.CAP_READER_LED_CONTROL, 1, 1),
    (osdp_sys.CAP_READER_AUDIBLE_OUTPUT, 1, 1),
    (osdp_sys.CAP_READER_TEXT_OUTPUT, 1, 1),
    (osdp_sys.CAP_READERS, 1, 1),
]


def to_jsonable(d):
    out = {}
    for k, v in d.items():
        if isinstance(v, (bytes, bytearray)):
            out[k] = bytes(v).hex()
        else:
            out[k] = v
    return out


def make_pty():
    master, slave = os.openpty()
    tty.setraw(slave, termios.TCSANOW)
    os.set_blocking(master, False)
    return master, slave, os.ttyname(slave)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--address", type=int, default=1, help="PD address 0..126")
    ap.add_argument("--log-level", default="warning", choices=sorted(LOG_LEVELS))
    ap.add_argument("--interval", type=float, default=0.02,
                    help="max seconds between refresh() calls when idle (the "
                    "binding asks for <=50ms; its own thread uses 20ms); "
                    "incoming bytes wake the loop at once")
    ap.add_argument("--keep-on-eof", action="store_true",
                    help="keep running when stdin reaches EOF")
    args = ap.parse_args()

    out = Out()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    master, slave, slave_path = make_pty()
    # `slave` stays open here: with no slave fd open the master reads EIO
    # between CP sessions.
    channel = FdChannel(master)

    osdp_sys.set_loglevel(LOG_LEVELS[args.log_level])
    info = {
        "name": "pd-%d" % args.address,
        "address": args.address,
        "flags": 0,  # no ENFORCE_SECURE, no INSTALL_MODE
        "channel": channel,
        **PD_ID,
        # no "scbk": secure channel not configured
    }
    caps = [{"function_code": fc, "compliance_level": cl, "num_items": n}
            for (fc, cl, n) in PD_CAPS]
    pd = osdp_sys.PeripheralDevice(info, capabilities=caps)

    def on_command(cmd):
        d = to_jsonable(cmd)
        cid = d.pop("command", None)
        line = {"command": COMMAND_NAMES.get(cid, "unknown"), "command_id": cid}
        line.update(d)
        out.emit(line)
        return (0, None)  # accept; libosdp sends the default reply (ACK etc.)

    pd.set_command_callback(on_command)

    out.emit({"tty": slave_path})

    def handle(line):
        line = line.strip()
        if not line:
            return True
        try:
            msg = json.loads(line)
        except ValueError as e:
            out.emit({"error": "bad json: %s" % e})
            return True
        if not isinstance(msg, dict):
            out.emit({"error": "expected a JSON object"})
            return True
        if msg.get("quit"):
            return False
        if "card" in msg:
            c = msg["card"]
            try:
                bits = int(c["bits"])
                data = bytes.fromhex(c["data"])
                fmt = c.get("format", "wiegand")
                fmt_code = CARD_FORMATS[fmt] if isinstance(fmt, str) else int(fmt)
                if len(data) != (bits + 7) // 8:
                    raise ValueError("data has %d bytes, %d bits need %d"
                                     % (len(data), bits, (bits + 7) // 8))
                event = {
                    "event": osdp_sys.EVENT_CARDREAD,
                    "reader_no": int(c.get("reader", 0)),
                    "format": fmt_code,
                    "direction": int(c.get("direction", 0)),
                    "length": bits,  # raw formats: length is in bits
                    "data": data,
                }
                ok = bool(pd.submit_event(event))
                out.emit({"submitted": "card", "ok": ok})
            except (KeyError, ValueError, TypeError) as e:
                out.emit({"error": "bad card: %s" % e})
            return True
        out.emit({"error": "unknown input: %s" % line[:200]})
        return True

    online = False
    stdin_fd = sys.stdin.fileno()
    stdin_open = True
    buf = b""
    running = True
    while running:
        pd.refresh()
        now_online = bool(pd.is_online())
        if now_online != online:
            online = now_online
            out.emit({"online": online})
        rlist = [master, stdin_fd] if stdin_open else [master]
        r, _, _ = select.select(rlist, [], [], args.interval)
        if stdin_fd in r:
            chunk = os.read(stdin_fd, 65536)
            if not chunk:
                stdin_open = False
                if not args.keep_on_eof:
                    break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if not handle(line.decode("utf-8", "replace")):
                    running = False
                    break
            # let libosdp run between bursts of input
    os.close(slave)
    return 0


if __name__ == "__main__":
    sys.exit(main())
