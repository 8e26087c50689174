#!/usr/bin/env bash
# Self-test of the libosdp interop helpers: libosdp_cp.py against libosdp_pd.py
# over a pty (the PD creates it, the CP opens the slave), then the same through
# osdp_sniff.py with a bench run.
#
#   tests/osdp/selftest.sh            (needs .venv: see requirements-test.txt)
#
# Exits non-zero on any failure; ends with an "N passed, N failed" line.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="${OSDP_PY:-$ROOT/.venv/bin/python}"

if [ ! -x "$PY" ]; then
    echo "selftest: $PY missing; run:" >&2
    echo "  python3 -m venv $ROOT/.venv && $ROOT/.venv/bin/pip install -r $ROOT/requirements-test.txt" >&2
    exit 2
fi

exec "$PY" - "$HERE" <<'PYEOF'
import json
import os
import queue
import subprocess
import sys
import threading
import time

HERE = sys.argv[1]
PY = sys.executable
PASSED, FAILED = [], []


class Proc:
    """A helper process speaking JSON lines; stdout lines land in a queue."""

    def __init__(self, name, args):
        self.name = name
        self.p = subprocess.Popen([PY] + args, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.q = queue.Queue()
        self.lines = []
        self.err = []
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()

    def _pump(self):
        for raw in self.p.stdout:
            try:
                obj = json.loads(raw)
            except ValueError:
                obj = {"_unparsed": raw.decode(errors="replace")}
            self.lines.append(obj)
            self.q.put(obj)
        self.q.put(None)

    def _pump_err(self):
        for raw in self.p.stderr:
            self.err.append(raw.decode(errors="replace").rstrip())

    def send(self, obj):
        self.p.stdin.write((json.dumps(obj) + "\n").encode())
        self.p.stdin.flush()

    def expect(self, pred, timeout, what):
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("%s: timed out waiting for %s" % (self.name, what))
            try:
                obj = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if obj is None:
                raise AssertionError("%s: exited (rc=%s) waiting for %s"
                                     % (self.name, self.p.poll(), what))
            if pred(obj):
                return obj

    def stop(self, timeout=5):
        if self.p.poll() is None:
            try:
                self.send({"quit": True})
                self.p.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.terminate()  # our own child, by handle
                self.p.wait(5)
        return self.p.returncode


def check(name, fn):
    try:
        fn()
        PASSED.append(name)
        print("ok   %s" % name, flush=True)
    except AssertionError as e:
        FAILED.append(name)
        print("FAIL %s: %s" % (name, e), flush=True)


def direct():
    pd = Proc("pd", [os.path.join(HERE, "libosdp_pd.py"), "--address", "1"])
    cp = None
    try:
        tty = pd.expect(lambda o: "tty" in o, 10, "tty line")["tty"]
        assert tty.startswith("/dev/"), tty
        cp = Proc("cp", [os.path.join(HERE, "libosdp_cp.py"), "--tty", tty,
                         "--address", "1"])

        def online():
            cp.expect(lambda o: o.get("event") == "online" and o.get("address") == 1,
                      10, "CP online event")
            pid = cp.expect(lambda o: o.get("event") == "pd_id", 5, "pd_id")
            assert pid["vendor_code"] == 0xA1B2C3, pid
            cap = cp.expect(lambda o: o.get("event") == "pd_cap", 5, "pd_cap")
            for k in ("LEDControl", "AudibleControl", "CardDataFormat"):
                assert k in cap["capabilities"], cap
            pd.expect(lambda o: o.get("online") is True, 5, "PD online line")
        check("cp sees pd online (with id and caps)", online)

        def card(bits, data, fmt, reader=0):
            def run():
                pd.send({"card": {"bits": bits, "data": data, "format": fmt,
                                  "reader": reader}})
                ack = pd.expect(lambda o: o.get("submitted") == "card", 5, "card ack")
                assert ack["ok"] is True, ack
                ev = cp.expect(lambda o: o.get("event") == "card_read", 5, "card_read")
                assert ev["address"] == 1, ev
                assert ev["bits"] == bits, ev
                assert ev["data"] == data, ev
                assert ev["format"] == fmt, ev
                assert ev["reader"] == reader, ev
            return run
        check("26-bit wiegand card reaches cp", card(26, "0a1b2c40", "wiegand"))
        check("34-bit raw card reaches cp", card(34, "deadbeef40", "raw"))

        def led():
            cp.send({"led": {"address": 1, "on_color": 2, "on_count": 5,
                             "off_count": 5}})
            sub = cp.expect(lambda o: o.get("event") == "submitted", 5, "submitted")
            assert sub["ok"] is True, sub
            c = pd.expect(lambda o: o.get("command") == "led", 5, "led command")
            assert (c["on_color"], c["on_count"], c["off_count"]) == (2, 5, 5), c
            assert c["control_code"] == 1 and c["temporary"] is False, c
        check("led command reaches pd", led)

        def buzzer():
            cp.send({"buzzer": {"address": 1, "control_code": 2, "on_count": 3,
                                "off_count": 4, "rep_count": 2}})
            sub = cp.expect(lambda o: o.get("event") == "submitted", 5, "submitted")
            assert sub["ok"] is True, sub
            c = pd.expect(lambda o: o.get("command") == "buzzer", 5, "buzzer command")
            assert (c["control_code"], c["on_count"], c["off_count"],
                    c["rep_count"]) == (2, 3, 4, 2), c
        check("buzzer command reaches pd", buzzer)

        def mfg():
            cp.send({"mfg": {"address": 1, "vendor_code": [1, 2, 3], "data": "cafe"}})
            c = pd.expect(lambda o: o.get("command") == "mfg", 5, "mfg command")
            assert c["vendor_code"] == 0x030201 and c["data"] == "cafe", c
        check("mfg command reaches pd", mfg)

        def still_online():
            time.sleep(0.5)
            offl = [o for o in cp.lines if o.get("event") == "offline"]
            assert not offl, offl
        check("pd stays online after the commands", still_online)

        def clean_exit():
            assert cp.stop() == 0, "cp rc %s" % cp.p.returncode
            assert pd.stop() == 0, "pd rc %s" % pd.p.returncode
        check("both exit 0 on quit", clean_exit)
    finally:
        if cp:
            cp.stop()
        pd.stop()
        if FAILED:
            print("--- pd stderr\n" + "\n".join(pd.err[-20:]))
            if cp:
                print("--- cp stderr\n" + "\n".join(cp.err[-20:]))


def sniffed_bench():
    pd = Proc("pd", [os.path.join(HERE, "libosdp_pd.py"), "--address", "5"])
    sn = cp = None
    try:
        tty = pd.expect(lambda o: "tty" in o, 10, "tty line")["tty"]
        sn = Proc("sniff", [os.path.join(HERE, "osdp_sniff.py"), "--tty", tty])
        tty2 = sn.expect(lambda o: "tty" in o, 10, "sniffer tty")["tty"]
        cp = Proc("cp", [os.path.join(HERE, "libosdp_cp.py"), "--tty", tty2,
                         "--address", "5", "--address", "6", "--bench", "3"])

        def bench():
            b = cp.expect(lambda o: o.get("event") == "bench", 15, "bench line")
            assert b["online"] == [5], b
            assert 2.5 <= b["seconds"] <= 4, b
            assert b["cpu_seconds"] > 0, b
            assert cp.p.wait(5) == 0
        check("bench mode, 2 addresses, one present", bench)

        def frames():
            time.sleep(0.3)
            fr = [o for o in sn.lines if "name" in o]
            names = [(f["dir"], f["addr"], f["name"]) for f in fr]
            assert ("cp->pd", 5, "ID") in names and ("pd->cp", 5, "PDID") in names, names[:10]
            assert ("cp->pd", 5, "CAP") in names and ("pd->cp", 5, "PDCAP") in names, names[:10]
            assert ("pd->cp", 5, "ACK") in names, names[:10]
            assert ("cp->pd", 6, "ID") in names, names[:10]
            assert all(f["check_ok"] for f in fr), [f for f in fr if not f["check_ok"]]
            assert not any(f["name"] == "CHLNG" for f in fr), "CP tried secure channel"
            assert all(f["crc"] for f in fr), "expected CRC-16 frames"
        check("sniffer decodes ID/CAP/POLL, CRC ok, no CHLNG", frames)
    finally:
        for p in (cp, sn, pd):
            if p:
                p.stop()


direct()
sniffed_bench()
print("selftest: %d passed, %d failed" % (len(PASSED), len(FAILED)))
sys.exit(1 if FAILED else 0)
PYEOF
