#!/usr/bin/env python3
"""Transparent OSDP wire tap between a CP and a PD that live on ptys.

    osdp_sniff.py --tty /dev/pts/N [--log FILE]

Opens PATH (the PD side, e.g. the slave printed by libosdp_pd.py), creates a
new pty pair, prints {"tty": "/dev/pts/M"} (the path to give the CP) as the
first stdout line, then forwards bytes both ways and writes one JSON line per
OSDP frame (to --log, default stdout):

    {"t_ms": 12.3, "dir": "cp->pd", "mark": true, "addr": 1, "seq": 0,
     "crc": true, "scb": null, "code": "0x60", "name": "ID", "data": "00",
     "check_ok": true, "raw": "ff53..."}

Bytes that are not part of a frame are reported as {"dir": ..., "junk": hex}.
Stops on SIGTERM/SIGINT or when stdin reaches EOF.
"""

import argparse
import json
import os
import select
import signal
import sys
import termios
import time
import tty

CMD_NAMES = {
    0x60: "POLL", 0x61: "ID", 0x62: "CAP", 0x64: "LSTAT", 0x65: "ISTAT",
    0x66: "OSTAT", 0x67: "RSTAT", 0x68: "OUT", 0x69: "LED", 0x6A: "BUZ",
    0x6B: "TEXT", 0x6D: "TDSET", 0x6E: "COMSET", 0x73: "BIOREAD",
    0x74: "BIOMATCH", 0x75: "KEYSET", 0x76: "CHLNG", 0x77: "SCRYPT",
    0x7B: "ACURXSIZE", 0x7C: "FILETRANSFER", 0x80: "MFG", 0xA1: "XWR",
    0xA2: "ABORT", 0xA3: "PIVDATA", 0xA4: "GENAUTH", 0xA5: "CRAUTH",
    0xA7: "KEEPACTIVE",
}
REPLY_NAMES = {
    0x40: "ACK", 0x41: "NAK", 0x45: "PDID", 0x46: "PDCAP", 0x48: "LSTATR",
    0x49: "ISTATR", 0x4A: "OSTATR", 0x4B: "RSTATR", 0x50: "RAW", 0x51: "FMT",
    0x53: "KEYPAD", 0x54: "COM", 0x57: "BIOREADR", 0x58: "BIOMATCHR",
    0x76: "CCRYPT", 0x78: "RMAC_I", 0x79: "BUSY", 0x7A: "FTSTAT",
    0x80: "PIVDATAR", 0x81: "GENAUTHR", 0x82: "CRAUTHR", 0x83: "MFGSTATR",
    0x84: "MFGERRR", 0x90: "MFGREP", 0xB1: "XRD",
}


def crc16(data):
    """OSDP CRC-16 (CRC-16/AUG-CCITT: poly 0x1021, init 0x1D0F, no reflect)."""
    crc = 0x1D0F
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def checksum8(data):
    return (-sum(data)) & 0xFF


class Parser:
    def __init__(self, direction, emit):
        self.dir = direction
        self.emit = emit
        self.buf = bytearray()

    def feed(self, data, t_ms):
        self.buf += data
        while True:
            i = self.buf.find(b"\x53")
            if i < 0:
                keep = 1 if self.buf.endswith(b"\xff") else 0
                junk = bytes(self.buf[:len(self.buf) - keep])
                if junk:
                    self.emit({"t_ms": t_ms, "dir": self.dir, "junk": junk.hex()})
                self.buf = self.buf[len(self.buf) - keep:]
                return
            pre = bytes(self.buf[:i])
            mark = pre.endswith(b"\xff")
            junk = pre[:-1] if mark else pre
            if junk:
                self.emit({"t_ms": t_ms, "dir": self.dir, "junk": junk.hex()})
            if len(self.buf) - i < 5:
                self.buf = self.buf[i - (1 if mark else 0):]
                return
            ln = self.buf[i + 2] | (self.buf[i + 3] << 8)
            if ln < 6 or ln > 1500:
                # not a frame start; skip this 0x53
                self.emit({"t_ms": t_ms, "dir": self.dir, "junk": "53"})
                self.buf = self.buf[i + 1:]
                continue
            if len(self.buf) - i < ln:
                self.buf = self.buf[i - (1 if mark else 0):]
                return
            pkt = bytes(self.buf[i:i + ln])
            self.buf = self.buf[i + ln:]
            self.emit(self.decode(pkt, mark, t_ms))

    def decode(self, pkt, mark, t_ms):
        addr = pkt[1]
        ctrl = pkt[4]
        use_crc = bool(ctrl & 0x04)
        has_scb = bool(ctrl & 0x08)
        pos = 5
        scb = None
        if has_scb:
            scb_len = pkt[5]
            scb = pkt[5:5 + scb_len]
            pos += scb_len
        end = len(pkt) - (2 if use_crc else 1)
        if use_crc:
            ok = crc16(pkt[:end]) == (pkt[end] | (pkt[end + 1] << 8))
        else:
            ok = checksum8(pkt[:end]) == pkt[end]
        # SCS_15..18 carry a 4-byte MAC before the check character
        if scb is not None and len(scb) >= 2 and scb[1] in (0x15, 0x16, 0x17, 0x18):
            end -= 4
        code = pkt[pos] if pos < len(pkt) else None
        names = REPLY_NAMES if (addr & 0x80) else CMD_NAMES
        return {
            "t_ms": t_ms,
            "dir": self.dir,
            "mark": mark,
            "addr": addr & 0x7F,
            "reply": bool(addr & 0x80),
            "seq": ctrl & 0x03,
            "crc": use_crc,
            "scb": scb.hex() if scb is not None else None,
            "code": "0x%02x" % code if code is not None else None,
            "name": names.get(code, "?"),
            "data": pkt[pos + 1:end].hex(),
            "check_ok": ok,
            "raw": (b"\xff" if mark else b"").hex() + pkt.hex(),
        }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tty", required=True, help="PD-side tty to open")
    ap.add_argument("--log", help="write frame lines here instead of stdout")
    args = ap.parse_args()

    out = os.fdopen(os.dup(1), "w", buffering=1)
    log = open(args.log, "w", buffering=1) if args.log else out

    pd_fd = os.open(args.tty, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(pd_fd, termios.TCSANOW)
    cp_master, cp_slave = os.openpty()
    tty.setraw(cp_slave, termios.TCSANOW)
    os.set_blocking(cp_master, False)
    out.write(json.dumps({"tty": os.ttyname(cp_slave)}) + "\n")
    out.flush()

    t0 = time.monotonic()

    def emit(obj):
        log.write(json.dumps(obj) + "\n")
        log.flush()

    parsers = {cp_master: Parser("cp->pd", emit), pd_fd: Parser("pd->cp", emit)}
    peer = {cp_master: pd_fd, pd_fd: cp_master}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    stdin_fd = sys.stdin.fileno()
    watch = [cp_master, pd_fd, stdin_fd]
    while not stop:
        try:
            r, _, _ = select.select(watch, [], [], 0.1)
        except InterruptedError:
            continue
        for fd in r:
            if fd == stdin_fd:
                if not os.read(stdin_fd, 4096):
                    stop.append(1)
                continue
            try:
                data = os.read(fd, 4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                time.sleep(0.01)  # EIO: other side not open yet
                continue
            if not data:
                continue
            t_ms = round((time.monotonic() - t0) * 1000, 1)
            try:
                os.write(peer[fd], data)
            except OSError:
                pass
            parsers[fd].feed(data, t_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
