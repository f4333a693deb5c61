// Fills a data dir for the garbage-collection and lifecycle benchmarks (bench/gc/gc_bench.sh,
// bench/gc/lifecycle_bench.sh): BLOBS blobs and MANIFESTS image manifests over them in
// REPOS repositories (default 10), pushed a minute apart, every other one tagged
// ("release-N" or "build-N"), a fifth of the
// manifests deleted again (their unshared blobs become garbage), and 1% of the blobs
// stored without a row (a crash's leftovers). Rows go in through one SQLite transaction
// (the schema comes from SqliteMetaStore::open), files are written empty under their
// digest's name: the collector never reads blob contents.
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>

#include "crypto/hash.h"
#include "store/meta/sqlite/sqlite_meta_store.h"

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: berth_gc_fill DATA_DIR BLOBS MANIFESTS [REPOS]\n");
    return 2;
  }
  const std::string data = argv[1];
  const long blobs = std::atol(argv[2]);
  const long manifests = std::atol(argv[3]);
  const long repos = argc == 5 ? std::atol(argv[4]) : 10;
  if (blobs < 100 || manifests < 10 || manifests * 2 > blobs || repos < 1 || repos > manifests) {
    std::fprintf(stderr, "berth_gc_fill: need BLOBS >= 100, MANIFESTS >= 10, BLOBS >= 2 x MANIFESTS\n");
    return 2;
  }
  std::filesystem::create_directories(data);
  {
    auto opened = berth::store::SqliteMetaStore::open(data + "/meta.db");  // creates the schema
    if (!opened) {
      std::fprintf(stderr, "berth_gc_fill: %s\n", opened.error().message.c_str());
      return 1;
    }
  }
  std::vector<std::string> digests;
  digests.reserve(static_cast<size_t>(blobs));
  for (long i = 0; i < blobs; ++i) digests.push_back(berth::crypto::sha256("blob " + std::to_string(i)).str());

  SQLite::Database db(data + "/meta.db", SQLite::OPEN_READWRITE);
  db.exec("PRAGMA foreign_keys = ON");
  SQLite::Transaction tx(db);
  for (long r = 1; r <= repos; ++r) {
    db.exec("INSERT INTO repositories (id, name, created_at) VALUES (" + std::to_string(r) + ", 'bench/repo" +
            std::to_string(r) + "', 0)");
  }
  const long recorded = blobs - blobs / 100;  // the last 1% are files without rows
  SQLite::Statement blob(db, "INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, 0)");
  SQLite::Statement link(db, "INSERT INTO repository_blobs (repository_id, digest, linked_at) VALUES (?, ?, 0)");
  // Configs are the first MANIFESTS blobs (one per manifest); layers are the rest, and
  // each manifest takes 8 layers from a window shared with its neighbours.
  const long layers = recorded - manifests;
  for (long i = 0; i < recorded; ++i) {
    blob.bind(1, digests[static_cast<size_t>(i)]);
    blob.bind(2, static_cast<int64_t>(1000 + i % 5000));
    blob.exec();
    blob.reset();
    const long repo = i < manifests ? 1 + i % repos : 1 + ((i - manifests) * manifests / layers) % repos;
    link.bind(1, static_cast<int64_t>(repo));
    link.bind(2, digests[static_cast<size_t>(i)]);
    link.exec();
    link.reset();
  }
  SQLite::Statement manifest(db,
                             "INSERT INTO manifests (repository_id, digest, media_type, size, pushed_at, content) "
                             "VALUES (?, ?, 'application/vnd.oci.image.manifest.v1+json', 500, ?, x'7b7d')");
  SQLite::Statement tag(db, "INSERT INTO tags (repository_id, name, manifest_digest, updated_at) VALUES (?, ?, ?, ?)");
  SQLite::Statement mount(
      db, "INSERT OR IGNORE INTO repository_blobs (repository_id, digest, linked_at) VALUES (?, ?, 0)");
  SQLite::Statement ref(db,
                        "INSERT OR IGNORE INTO manifest_blob_refs (repository_id, manifest_digest, blob_digest) "
                        "VALUES (?, ?, ?)");
  for (long m = 0; m < manifests; ++m) {
    const long repo = 1 + m % repos;
    const std::string digest = berth::crypto::sha256("manifest " + std::to_string(m)).str();
    const int64_t pushed_at = int64_t{60'000} * m;
    manifest.bind(1, static_cast<int64_t>(repo));
    manifest.bind(2, digest);
    manifest.bind(3, pushed_at);
    manifest.exec();
    manifest.reset();
    if (m % 2 == 0) {
      tag.bind(1, static_cast<int64_t>(repo));
      tag.bind(2, (m % 10 == 0 ? "release-" : "build-") + std::to_string(m));
      tag.bind(3, digest);
      tag.bind(4, pushed_at);
      tag.exec();
      tag.reset();
    }
    std::vector<long> used{m};
    const long base = manifests + (m * layers / manifests);
    for (long k = 0; k < 8; ++k) used.push_back(manifests + (base - manifests + k * 3) % layers);
    for (long b : used) {
      // A layer linked to another repository is linked to this one too (as a mount).
      mount.bind(1, static_cast<int64_t>(repo));
      mount.bind(2, digests[static_cast<size_t>(b)]);
      mount.exec();
      mount.reset();
      ref.bind(1, static_cast<int64_t>(repo));
      ref.bind(2, digest);
      ref.bind(3, digests[static_cast<size_t>(b)]);
      ref.exec();
      ref.reset();
    }
  }
  // Delete every fifth manifest: its config and the layers only it used become garbage.
  db.exec("DELETE FROM manifests WHERE rowid % 5 = 0");
  tx.commit();

  for (long i = 0; i < blobs; ++i) {
    const std::string& d = digests[static_cast<size_t>(i)];
    const std::string hex = d.substr(7);
    const std::filesystem::path dir = std::filesystem::path(data) / "blobs" / "sha256" / hex.substr(0, 2);
    std::filesystem::create_directories(dir);
    std::ofstream(dir / hex).flush();
  }
  std::filesystem::create_directories(std::filesystem::path(data) / "uploads");
  std::printf("filled %s: %ld blobs (%ld without rows), %ld manifests (a fifth deleted), %ld repositories\n",
              data.c_str(), blobs, blobs - recorded, manifests, repos);
  return 0;
}
