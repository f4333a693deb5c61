"""Deterministic OCI content for the integration tests.

Builds image manifests, indexes and artifacts in memory (real tar layers, compressed
with gzip or zstd), and writes them as OCI image layouts on disk that skopeo reads as
`oci:DIR:TAG`. The same objects can be pushed over raw HTTP by the tests.

Everything is derived from an integer seed: the same seed gives the same bytes, and so
the same digests, on every run.
"""

import gzip
import hashlib
import io
import json
import os
import random
import subprocess
import tarfile

# Media types.
MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
MT_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MT_OCI_EMPTY = "application/vnd.oci.empty.v1+json"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

REF_NAME = "org.opencontainers.image.ref.name"

EMPTY_JSON = b"{}"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha512(data):
    return "sha512:" + hashlib.sha512(data).hexdigest()


def canonical_json(obj):
    """Stable JSON bytes (sorted keys, no spaces)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def pseudo_random_bytes(seed, size):
    """`size` deterministic, incompressible bytes."""
    return random.Random(seed).randbytes(size)


def text_bytes(seed, size):
    """`size` deterministic, compressible text bytes."""
    rng = random.Random(seed)
    words = ["berth", "registry", "layer", "blob", "manifest", "digest", "tag", "oci",
             "index", "config", "skopeo", "podman", "chunk", "range", "mount"]
    out = io.StringIO()
    written = 0
    while written < size:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) + "\n"
        out.write(line)
        written += len(line)
    return out.getvalue().encode()[:size]


class Blob:
    """A content-addressed blob with its media type."""

    def __init__(self, data, media_type, algorithm="sha256"):
        self.data = data
        self.media_type = media_type
        self.digest = sha512(data) if algorithm == "sha512" else sha256(data)
        self.size = len(data)

    def descriptor(self, **extra):
        d = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        d.update(extra)
        return d

    @property
    def hex(self):
        return self.digest.split(":", 1)[1]


# ---------------------------------------------------------------------------------------
# Layers


def make_tar(entries):
    """A deterministic tar archive. `entries` is a list of (path, content) where content
    is bytes for a regular file or None for a directory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, content in entries:
            info = tarfile.TarInfo(path)
            info.mtime = 1700000000
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if content is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.type = tarfile.REGTYPE
                info.mode = 0o644
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def gzip_compress(data):
    return gzip.compress(data, compresslevel=6, mtime=0)


def zstd_compress(data):
    return subprocess.run(["zstd", "-q", "-c", "-3", "--no-progress"], input=data,
                          stdout=subprocess.PIPE, check=True).stdout


class Layer:
    """A tar layer: the uncompressed tar (diff id) and the compressed blob."""

    def __init__(self, tar_bytes, compression="gzip", docker=False):
        self.tar = tar_bytes
        self.diff_id = sha256(tar_bytes)
        if compression == "gzip":
            data = gzip_compress(tar_bytes)
            mt = MT_DOCKER_LAYER_GZIP if docker else MT_OCI_LAYER_GZIP
        elif compression == "zstd":
            data = zstd_compress(tar_bytes)
            mt = MT_OCI_LAYER_ZSTD
        elif compression == "none":
            data = tar_bytes
            mt = MT_OCI_LAYER_TAR
        else:
            raise ValueError(compression)
        self.compression = compression
        self.blob = Blob(data, mt)


def make_layer(seed, index, size, compression="gzip", docker=False):
    """A layer with a directory, a text file and a binary file, about `size` bytes of
    file content (half compressible text, half random)."""
    half = max(1, size // 2)
    entries = [
        ("berth", None),
        (f"berth/layer{index}", None),
        (f"berth/layer{index}/README.txt", text_bytes(seed * 1000 + index, half)),
        (f"berth/layer{index}/data.bin", pseudo_random_bytes(seed * 1000 + index + 500, size - half)),
        ("berth/shared.txt", f"written by layer {index} of seed {seed}\n".encode()),
    ]
    return Layer(make_tar(entries), compression, docker)


# ---------------------------------------------------------------------------------------
# Manifests


class Manifest:
    """A manifest (image, artifact, index) ready to push: its bytes, media type, digest,
    and the blobs (and child manifests) it needs first."""

    def __init__(self, body, media_type, blobs=(), children=()):
        self.body = body
        self.media_type = media_type
        self.digest = sha256(body)
        self.size = len(body)
        self.blobs = list(blobs)        # Blob objects referenced directly
        self.children = list(children)  # Manifest objects referenced (index)
        self.json = json.loads(body)

    def descriptor(self, **extra):
        d = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        d.update(extra)
        return d

    def all_blobs(self):
        """Every blob this manifest needs, children first, without duplicates."""
        seen = {}
        for child in self.children:
            for b in child.all_blobs():
                seen.setdefault(b.digest, b)
        for b in self.blobs:
            seen.setdefault(b.digest, b)
        return list(seen.values())

    def all_manifests(self):
        """This manifest and every manifest below it, children first."""
        out = []
        for child in self.children:
            for m in child.all_manifests():
                if m.digest not in {x.digest for x in out}:
                    out.append(m)
        out.append(self)
        return out


def build_image(seed, layer_specs=(("gzip", 64 * 1024), ("zstd", 64 * 1024)),
                arch="amd64", os_name="linux", docker=False, annotations=None,
                config_media_type=None, subject=None, artifact_type=None):
    """An image manifest with real tar layers. `layer_specs` is a list of
    (compression, approximate size)."""
    layers = [make_layer(seed, i, size, comp, docker) for i, (comp, size) in enumerate(layer_specs)]
    config = {
        "architecture": arch,
        "os": os_name,
        "created": "2024-01-01T00:00:00Z",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    f"BERTH_SEED={seed}"],
            "Cmd": ["/bin/sh"],
            "Labels": {"org.example.seed": str(seed)},
        },
        "rootfs": {"type": "layers", "diff_ids": [l.diff_id for l in layers]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"berth test layer {i}"}
                    for i in range(len(layers))],
    }
    if arch == "arm64":
        config["variant"] = "v8"
    cmt = config_media_type or (MT_DOCKER_CONFIG if docker else MT_OCI_CONFIG)
    config_blob = Blob(canonical_json(config), cmt)
    mt = MT_DOCKER_MANIFEST if docker else MT_OCI_MANIFEST
    body = {
        "schemaVersion": 2,
        "mediaType": mt,
        "config": config_blob.descriptor(),
        "layers": [l.blob.descriptor() for l in layers],
    }
    if artifact_type:
        body["artifactType"] = artifact_type
    if subject is not None:
        body["subject"] = subject
    if annotations:
        body["annotations"] = annotations
    m = Manifest(json.dumps(body, indent=3).encode(), mt, [config_blob] + [l.blob for l in layers])
    m.config = config_blob
    m.layers = layers
    return m


def build_index(images, docker=False, annotations=None, artifact_type=None, subject=None):
    """An OCI index (or Docker manifest list) over `images`, with their platforms."""
    mt = MT_DOCKER_LIST if docker else MT_OCI_INDEX
    manifests = []
    for img in images:
        cfg = json.loads(img.config.data) if hasattr(img, "config") else {}
        platform = {"architecture": cfg.get("architecture", "amd64"), "os": cfg.get("os", "linux")}
        if cfg.get("variant"):
            platform["variant"] = cfg["variant"]
        manifests.append(img.descriptor(platform=platform))
    body = {"schemaVersion": 2, "mediaType": mt, "manifests": manifests}
    if artifact_type:
        body["artifactType"] = artifact_type
    if subject is not None:
        body["subject"] = subject
    if annotations:
        body["annotations"] = annotations
    return Manifest(json.dumps(body, indent=2).encode(), mt, children=images)


def build_multiarch(seed, layer_specs=(("gzip", 32 * 1024), ("zstd", 32 * 1024))):
    """An OCI index with a linux/amd64 and a linux/arm64 image."""
    amd = build_image(seed, layer_specs, arch="amd64")
    arm = build_image(seed + 1, layer_specs, arch="arm64")
    return build_index([amd, arm])


def build_artifact(seed, subject=None, artifact_type="application/vnd.example.sbom.v1",
                   config_media_type=MT_OCI_EMPTY, payload_media_type="application/vnd.example.sbom.layer.v1+json",
                   payload_size=2048, annotations=None, config_data=None):
    """An OCI artifact manifest: `artifactType`, an empty (or custom) config, one
    payload blob, and optionally a `subject` descriptor."""
    if config_data is None:
        config_data = EMPTY_JSON if config_media_type == MT_OCI_EMPTY else canonical_json(
            {"berth.test": "custom config", "seed": seed})
    config = Blob(config_data, config_media_type)
    payload = Blob(canonical_json({"seed": seed, "text": text_bytes(seed, payload_size).decode()}),
                   payload_media_type)
    body = {
        "schemaVersion": 2,
        "mediaType": MT_OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [payload.descriptor()],
    }
    if artifact_type:
        body["artifactType"] = artifact_type
    if subject is not None:
        body["subject"] = subject
    body["annotations"] = annotations if annotations is not None else {
        "org.opencontainers.image.created": "2024-01-01T00:00:00Z", "org.example.seed": str(seed)}
    m = Manifest(json.dumps(body, indent=2).encode(), MT_OCI_MANIFEST, [config, payload])
    m.config = config
    m.payload = payload
    return m


# ---------------------------------------------------------------------------------------
# OCI image layout on disk


class Layout:
    """An OCI image layout directory (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`)."""

    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(path, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)
        self.entries = []
        self._write_index()

    def _write_blob(self, digest, data):
        alg, hexpart = digest.split(":", 1)
        d = os.path.join(self.path, "blobs", alg)
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, hexpart)
        if not os.path.exists(p):
            with open(p, "wb") as f:
                f.write(data)

    def _write_index(self):
        with open(os.path.join(self.path, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": self.entries}, f, indent=2)

    def add(self, manifest, tag=None):
        """Store `manifest` and everything below it; reference it from index.json (by
        tag when given)."""
        for b in manifest.all_blobs():
            self._write_blob(b.digest, b.data)
        for m in manifest.all_manifests():
            self._write_blob(m.digest, m.body)
        desc = manifest.descriptor()
        if tag:
            desc["annotations"] = {REF_NAME: tag}
        self.entries.append(desc)
        self._write_index()
        return self

    def ref(self, tag):
        return f"oci:{self.path}:{tag}"

    def blob_path(self, digest):
        alg, hexpart = digest.split(":", 1)
        return os.path.join(self.path, "blobs", alg, hexpart)

    def read_blob(self, digest):
        with open(self.blob_path(digest), "rb") as f:
            return f.read()


def read_layout(path):
    """(index.json as a dict, {digest: bytes} of every blob) of a layout on disk."""
    with open(os.path.join(path, "index.json"), "rb") as f:
        index = json.load(f)
    blobs = {}
    root = os.path.join(path, "blobs")
    for alg in os.listdir(root):
        for name in os.listdir(os.path.join(root, alg)):
            with open(os.path.join(root, alg, name), "rb") as f:
                blobs[f"{alg}:{name}"] = f.read()
    return index, blobs


def layout_manifest_for_tag(path, tag):
    """The descriptor index.json of layout `path` gives for `tag`."""
    index, _ = read_layout(path)
    for d in index["manifests"]:
        if d.get("annotations", {}).get(REF_NAME) == tag:
            return d
    raise KeyError(tag)
