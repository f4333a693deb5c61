#!/usr/bin/env python3
"""Scan benchmark (issue 5): time and peak RSS of `berth scan image` for a debootstrap
bookworm image and for a generated 1 GiB image with 50k files, and the time of `berth scan
rescan` over 1,000 images after a vulnerability database update. Prints a Markdown table.

    bench/scan/run.py [--berth build/release/berth] [--images 1000] [--big-mib 1024] [--big-files 50000]

It starts its own `berth serve` (through tests/integration/harness.py) on a temp data dir,
pushes the images over /v2/, and runs the CLI verbs against that data dir while the server
runs. Not part of `make test`."""

import argparse
import io
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--berth", default=os.path.join(ROOT, "build", "release", "berth"))
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--big-mib", type=int, default=1024)
    p.add_argument("--big-files", type=int, default=50_000)
    return p.parse_args()


ARGS = parse_args()
os.environ["BERTH_BIN"] = os.path.abspath(ARGS.berth)

import ocilayout as oci  # noqa: E402
from harness import Server, run  # noqa: E402
from test_ecr_api import client  # noqa: E402
import test_scan_images as images  # noqa: E402


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def timed_cli(*args):
    """Wall seconds and peak RSS (KiB, GNU time %M) of one berth CLI run, and its stdout."""
    with tempfile.NamedTemporaryFile("r") as t:
        r = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", t.name, ARGS.berth, *args],
                           capture_output=True, text=True, timeout=3600)
        if r.returncode != 0:
            raise SystemExit(f"berth {' '.join(args)} failed: {r.stderr}")
        wall, rss = t.read().split()[-2:]
    return float(wall), int(rss), r.stdout


def push_file_blob(cl, repo, path):
    """Streams a blob from disk (a 1 GiB layer is never held in memory here)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    digest = "sha256:" + h.hexdigest()
    r = cl.start_upload(repo)
    assert r.status_code == 202, r.text
    with open(path, "rb") as f:
        r = cl.put_upload(r.headers["Location"], digest, f)
    assert r.status_code == 201, r.text
    return digest


def push_manifest(cl, repo, tag, config, layers):
    """layers: [(digest, size, media_type, diff_id)]; config: dict. Returns the manifest digest."""
    config_bytes = oci.canonical_json(config)
    cfg_digest = cl.push_blob(repo, config_bytes)
    body = {"schemaVersion": 2, "mediaType": oci.MT_OCI_MANIFEST,
            "config": {"mediaType": oci.MT_OCI_CONFIG, "digest": cfg_digest, "size": len(config_bytes)},
            "layers": [{"mediaType": mt, "digest": d, "size": s} for d, s, mt, _ in layers]}
    data = json.dumps(body).encode()
    r = cl.put_manifest(repo, tag, data, oci.MT_OCI_MANIFEST)
    assert r.status_code == 201, r.text
    return oci.sha256(data)


def config_for(layers, seed):
    return {"architecture": "amd64", "os": "linux", "config": {"Env": [f"SEED={seed}"]},
            "rootfs": {"type": "layers", "diff_ids": [l[3] for l in layers]}}


def big_layer(tmp, mib, files):
    """A gzip layer of `files` files totalling `mib` MiB (random bytes, so gzip cannot
    shrink it), with a dpkg status, an os-release and some node_modules among them."""
    tar_path = os.path.join(tmp, "big.tar")
    size = (mib << 20) // files
    rnd = open("/dev/urandom", "rb")
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1700000000
            tar.addfile(info, io.BytesIO(data))
        add("etc/os-release", images.OS_DEBIAN12)
        add("var/lib/dpkg/status", b"Package: perl-base\nStatus: install ok installed\nSource: perl\n"
                                   b"Version: 5.36.0-7+deb12u1\n")
        for i in range(files):
            if i % 1000 == 0:
                add(f"srv/app{i}/node_modules/lodash/package.json", images.npm_manifest("lodash", "4.17.15"))
            else:
                add(f"srv/data/{i // 1000}/f{i}.bin", rnd.read(size))
    h = hashlib.sha256()
    with open(tar_path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    gz = tar_path + ".gz"
    with open(gz, "wb") as out:
        subprocess.run(["gzip", "-1", "-c", tar_path], stdout=out, check=True)
    os.unlink(tar_path)
    return gz, "sha256:" + h.hexdigest()


def wait_scans(ecr, repo, n, deadline_s=1800):
    deadline = time.monotonic() + deadline_s
    while True:
        done = 0
        for page in ecr.get_paginator("describe_images").paginate(repositoryName=repo):
            done += sum(1 for d in page["imageDetails"]
                        if d.get("imageScanStatus", {}).get("status") in ("COMPLETE", "ACTIVE", "FAILED"))
        if done >= n:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"only {done}/{n} scans finished")
        time.sleep(1)


def main():
    rows = []
    tmp = tempfile.mkdtemp(prefix="berth-scan-bench-")
    server = Server(extra_args=("--rescan-interval", "0", "--no-access-log"))
    try:
        server.start()
        from harness import Client
        cl = Client(server.base_url)
        ecr = client(server)
        vulndata = images.VULNDATA
        for sub in ("debian/bookworm", "alpine/secdb/v3.20", "osv/npm", "osv/PyPI", "osv/Go"):
            run([ARGS.berth, "vulndb", "import", os.path.join(vulndata, sub), "--data-dir", server.data_dir])

        # 0. the fixed cost of one CLI scan: open the data dir, build the matcher
        tiny = images.tar_layer([("app/node_modules/lodash/package.json", images.npm_manifest("lodash", "4.17.21"))])
        server.repo_create("bench/tiny")
        cl.push_blob("bench/tiny", tiny.blob.data)
        layers = [(tiny.blob.digest, len(tiny.blob.data), tiny.blob.media_type, tiny.diff_id)]
        push_manifest(cl, "bench/tiny", "v1", config_for(layers, 0), layers)
        wall, rss, out = timed_cli("scan", "image", "--repository", "bench/tiny", "--image", "v1", "--json",
                                   "--data-dir", server.data_dir)
        rows.append(("scan a 1-file image (fixed cost: open the data dir, build the matcher)", wall, rss))

        # 1. the debootstrap image
        log("debian image")
        tgz, layer = images.debian_rootfs_layer()
        server.repo_create("bench/debian")
        d = push_file_blob(cl, "bench/debian", tgz)
        layers = [(d, os.path.getsize(tgz), oci.MT_OCI_LAYER_GZIP, layer.diff_id)]
        push_manifest(cl, "bench/debian", "v1", config_for(layers, 1), layers)
        del layer
        wall, rss, out = timed_cli("scan", "image", "--repository", "bench/debian", "--image", "v1", "--json",
                                   "--data-dir", server.data_dir)
        n = len(json.loads(out)["findings"])
        rows.append((f"scan debootstrap bookworm minbase ({os.path.getsize(tgz) >> 20} MiB gzip, 1 layer), "
                     f"{n} findings", wall, rss))

        # 2. a generated 1 GiB image with 50k files
        log(f"generating {ARGS.big_mib} MiB / {ARGS.big_files} files")
        gz, diff_id = big_layer(tmp, ARGS.big_mib, ARGS.big_files)
        server.repo_create("bench/big")
        d = push_file_blob(cl, "bench/big", gz)
        layers = [(d, os.path.getsize(gz), oci.MT_OCI_LAYER_GZIP, diff_id)]
        push_manifest(cl, "bench/big", "v1", config_for(layers, 2), layers)
        os.unlink(gz)
        wall, rss, out = timed_cli("scan", "image", "--repository", "bench/big", "--image", "v1", "--json",
                                   "--data-dir", server.data_dir)
        n = len(json.loads(out)["findings"])
        rows.append((f"scan generated image ({ARGS.big_mib} MiB, {ARGS.big_files:,} files), {n} findings", wall, rss))

        # 3. rescan of N images sharing layers after a database update
        log(f"pushing {ARGS.images} images to a CONTINUOUS_SCAN repository")
        ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=[
            {"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "rescan/*", "filterType": "WILDCARD"}]}])
        repo = "rescan/app"
        server.repo_create(repo)
        shared = [images.tar_layer([("app/node_modules/lodash/package.json", images.npm_manifest("lodash", "4.17.15"))]),
                  images.tar_layer([("etc/os-release", images.OS_DEBIAN12),
                                    ("var/lib/dpkg/status", b"Package: perl-base\nStatus: install ok installed\n"
                                                            b"Source: perl\nVersion: 5.36.0-7+deb12u1\n")])]
        own = [images.tar_layer([(f"srv/app{i}/node_modules/minimist/package.json",
                                  images.npm_manifest("minimist", "1.2.%d" % (i % 9)))]) for i in range(10)]
        for l in shared + own:
            cl.push_blob(repo, l.blob.data)
        desc = lambda l: (l.blob.digest, len(l.blob.data), l.blob.media_type, l.diff_id)  # noqa: E731
        for i in range(ARGS.images):
            layers = [desc(shared[0]), desc(shared[1]), desc(own[i % len(own)])]
            push_manifest(cl, repo, f"v{i}", config_for(layers, 1000 + i), layers)
        wait_scans(ecr, repo, ARGS.images)
        log("database update")
        upd = os.path.join(tmp, "update")
        os.makedirs(upd)
        with open(os.path.join(upd, "BENCH-0001.json"), "w") as f:
            json.dump({"id": "BENCH-0001", "modified": "2026-12-01T00:00:00Z", "summary": "bench advisory",
                       "affected": [{"package": {"ecosystem": "npm", "name": "lodash"},
                                     "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.22"}]}]}]},
                      f)
        run([ARGS.berth, "vulndb", "import", upd, "--data-dir", server.data_dir])
        wall, rss, out = timed_cli("scan", "rescan", "--json", "--data-dir", server.data_dir)
        rep = json.loads(out)
        rows.append((f"rescan after a database update: {rep['imagesRematched']} images re-matched, "
                     f"{rep['imagesWithNewFindings']} with new findings, {rep['layersRead']} layers read", wall, rss))
    finally:
        problems = server.close()
        shutil.rmtree(tmp, True)
        if problems:
            print("\n".join(problems), file=sys.stderr)

    print(f"\nberth scan benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {ARGS.berth}\n")
    print("| what | wall, s | peak RSS, MiB |")
    print("|---|---:|---:|")
    for what, wall, rss in rows:
        print(f"| {what} | {wall:.2f} | {rss / 1024:.1f} |")


if __name__ == "__main__":
    main()
