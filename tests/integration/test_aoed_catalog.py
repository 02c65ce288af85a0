"""bootshelf-aoed -c: export the catalog's "aoe = SHELF.SLOT" entries,
and follow catalog edits on SIGHUP."""
import hashlib
import os
import signal


from aoeutil import Net, kv, log_problems, make_iso, wait_for


def targets(out):
    return sorted((t["shelf"], t["slot"]) for t in
                  (kv(l) for l in out.decode().splitlines()
                   if l.startswith("target ")))


def test_catalog_targets_and_reload(tmp_path):
    a = make_iso(str(tmp_path / "a.iso"), str(tmp_path), mib=1)
    b = make_iso(str(tmp_path / "b.iso"), str(tmp_path), mib=2)
    cat = tmp_path / "catalog.conf"
    cat.write_text("[iso alpha]\npath = %s\naoe = 0.1\n\n"
                   "[iso beta]\npath = %s\n\n" % (a, b))
    n = Net()
    try:
        log = str(tmp_path / "aoed.log")
        p = n.start_aoed(["-c", str(cat), "-I", "1"], log)
        assert targets(n.init("-w", "500", "discover").stdout) == \
            [("0", "1")]
        out = str(tmp_path / "out")
        n.init("-t", "0.1", "-o", out, "read")
        with open(out, "rb") as f, open(a, "rb") as g:
            assert hashlib.sha256(f.read()).digest() == \
                hashlib.sha256(g.read()).digest()
        # beta gains an aoe key, alpha loses it: SIGHUP follows
        cat.write_text("[iso alpha]\npath = %s\n\n"
                       "[iso beta]\npath = %s\naoe = 2.3\n\n" % (a, b))
        p.send_signal(signal.SIGHUP)

        def moved():
            return targets(n.init("-w", "300", "-r", "1", "discover",
                                  check=False).stdout) == [("2", "3")]
        wait_for(moved, 15, "catalog reload")
        ident = kv(n.init("-t", "2.3", "identify").stdout.decode()
                   .splitlines()[-1])
        assert int(ident["sectors"]) == os.path.getsize(b) // 512
        # a broken catalog keeps the old targets
        cat.write_text("[iso beta\n")
        p.send_signal(signal.SIGHUP)
        wait_for(lambda: b"keeping the old targets" in
                 open(log, "rb").read(), 15, "failed reload")
        assert targets(n.init("-w", "300", "discover").stdout) == \
            [("2", "3")]
        p.send_signal(signal.SIGTERM)
        assert p.wait(15) == 0
        assert not [l for l in log_problems(log)
                    if "catalog" not in l and "beta" not in l]
    finally:
        n.close()


def test_catalog_aoe_mask(tmp_path):
    """aoe_mask in the catalog: only the listed initiators are answered."""
    a = make_iso(str(tmp_path / "a.iso"), str(tmp_path), mib=1)
    b = make_iso(str(tmp_path / "b.iso"), str(tmp_path), mib=1)
    n = Net()
    try:
        cat = tmp_path / "catalog.conf"
        cat.write_text("[iso open]\npath = %s\naoe = 0.1\n"
                       "aoe_mask = %s, 52:54:00:00:00:99\n\n"
                       "[iso closed]\npath = %s\naoe = 0.2\n"
                       "aoe_mask = 52:54:00:00:00:98\n" % (a, n.imac, b))
        log = str(tmp_path / "aoed.log")
        p = n.start_aoed(["-c", str(cat)], log)
        assert targets(n.init("-w", "500", "discover").stdout) == \
            [("0", "1")]
        p.send_signal(signal.SIGTERM)
        assert p.wait(15) == 0
    finally:
        n.close()
