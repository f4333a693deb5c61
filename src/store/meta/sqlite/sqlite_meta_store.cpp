#include "store/meta/sqlite/sqlite_meta_store.h"
#include "store/meta/sqlite/wal_index.h"

#include <climits>
#include <cstdint>
#include <exception>
#include <iterator>
#include <set>
#include <string_view>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unordered_map>

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include "core/log.h"

namespace berth::store {
namespace sqlite_detail {
namespace {

constexpr size_t kMaxIdleReaders = 32;

// Migrations, applied in order inside one BEGIN IMMEDIATE transaction; migration i
// takes the schema from version i to i + 1 (PRAGMA user_version). Never edit one that
// has shipped: append a new one.
//
// Notes on the shape:
// - Every table that hangs off a repository cascades from repositories(id), so a
//   forced repository delete is one DELETE. AUTOINCREMENT so an id is never reused
//   (later per-repository settings, policies and audit rows may key on it).
// - blobs is the registry-wide record of content (digest, size, first seen);
//   repository_blobs says which repository may use it. A blobs row with no
//   repository_blobs and no manifest_blob_refs row is garbage: the foreign keys on
//   blobs(digest) stop GC from deleting a row something still references.
// - manifest_blob_refs and manifest_children keep what each manifest references, for
//   GC marking and storage accounting; they cascade away with their manifest.
//   Children carry no foreign key to the child manifest: deleting a manifest that an
//   index lists is allowed (as in distribution); GC treats listed children as live.
// - tags cascade from their manifest, which is how delete_manifest removes them.
// - manifests.content is the last column: it can be 4 MiB on overflow pages, and
//   SQLite reads a row's columns in order, so queries that do not select it (referrers,
//   later image listings) never touch those pages.
// - Times are INTEGER milliseconds since the Unix epoch; TEXT compares bytewise
//   (BINARY collation), which gives the lexical order the API promises.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE repositories (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  name        TEXT NOT NULL UNIQUE,
  created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE blobs (
  digest      TEXT PRIMARY KEY,
  size        INTEGER NOT NULL CHECK (size >= 0),
  created_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE repository_blobs (
  repository_id  INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  digest         TEXT NOT NULL REFERENCES blobs (digest),
  linked_at      INTEGER NOT NULL,
  PRIMARY KEY (repository_id, digest)
) STRICT, WITHOUT ROWID;
CREATE INDEX repository_blobs_by_digest ON repository_blobs (digest);

CREATE TABLE manifests (
  repository_id     INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  digest            TEXT NOT NULL,
  media_type        TEXT NOT NULL,
  artifact_type     TEXT NOT NULL DEFAULT '',
  subject_digest    TEXT,
  size              INTEGER NOT NULL CHECK (size >= 0),
  annotations_json  TEXT NOT NULL DEFAULT '{}',
  pushed_at         INTEGER NOT NULL,
  last_pulled_at    INTEGER,
  content           BLOB NOT NULL,
  PRIMARY KEY (repository_id, digest)
) STRICT;
CREATE INDEX manifests_by_subject ON manifests (repository_id, subject_digest, digest)
  WHERE subject_digest IS NOT NULL;

CREATE TABLE manifest_blob_refs (
  repository_id    INTEGER NOT NULL,
  manifest_digest  TEXT NOT NULL,
  blob_digest      TEXT NOT NULL REFERENCES blobs (digest),
  PRIMARY KEY (repository_id, manifest_digest, blob_digest),
  FOREIGN KEY (repository_id, manifest_digest) REFERENCES manifests (repository_id, digest) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX manifest_blob_refs_by_blob ON manifest_blob_refs (blob_digest);

CREATE TABLE manifest_children (
  repository_id  INTEGER NOT NULL,
  parent_digest  TEXT NOT NULL,
  child_digest   TEXT NOT NULL,
  PRIMARY KEY (repository_id, parent_digest, child_digest),
  FOREIGN KEY (repository_id, parent_digest) REFERENCES manifests (repository_id, digest) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX manifest_children_by_child ON manifest_children (repository_id, child_digest);

CREATE TABLE tags (
  repository_id    INTEGER NOT NULL,
  name             TEXT NOT NULL,
  manifest_digest  TEXT NOT NULL,
  updated_at       INTEGER NOT NULL,
  PRIMARY KEY (repository_id, name),
  FOREIGN KEY (repository_id, manifest_digest) REFERENCES manifests (repository_id, digest) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX tags_by_manifest ON tags (repository_id, manifest_digest);

CREATE TABLE uploads (
  id             TEXT PRIMARY KEY,
  repository_id  INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  byte_offset    INTEGER NOT NULL CHECK (byte_offset >= 0),
  hash_state     BLOB NOT NULL,
  started_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX uploads_by_repository ON uploads (repository_id);
CREATE INDEX uploads_by_updated_at ON uploads (updated_at);
)sql",
    // 2: ECR repository settings, access keys, registry settings.
    R"sql(
ALTER TABLE repositories ADD COLUMN settings_json TEXT NOT NULL DEFAULT '{}';

CREATE TABLE access_keys (
  id             TEXT PRIMARY KEY,
  account_id     TEXT NOT NULL,
  principal_arn  TEXT NOT NULL,
  sealed_secret  BLOB NOT NULL,
  created_at     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX access_keys_by_principal ON access_keys (principal_arn);

CREATE TABLE settings (
  key    TEXT PRIMARY KEY,
  value  TEXT NOT NULL
) STRICT, WITHOUT ROWID;
)sql",
    // 3: IAM principals (users, roles) with inline policies, accounts, repository policies.
    R"sql(
ALTER TABLE repositories ADD COLUMN policy_text TEXT;

CREATE TABLE accounts (
  id          TEXT PRIMARY KEY,
  created_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE principals (
  arn         TEXT PRIMARY KEY,
  account_id  TEXT NOT NULL,
  kind        TEXT NOT NULL,
  name        TEXT NOT NULL,
  created_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX principals_by_account ON principals (account_id);

CREATE TABLE principal_policies (
  principal_arn  TEXT NOT NULL REFERENCES principals (arn) ON DELETE CASCADE,
  name           TEXT NOT NULL,
  document       TEXT NOT NULL,
  PRIMARY KEY (principal_arn, name)
) STRICT, WITHOUT ROWID;
)sql",
    // 4: garbage collection. An upload records the digest it is committing (so a
    // collector keeps those bytes), and blob_deletions records the digests whose bytes a
    // collector is deleting (so no link is made to them meanwhile). docs/gc.md.
    R"sql(
ALTER TABLE uploads ADD COLUMN committing_digest TEXT;
CREATE INDEX uploads_by_committing_digest ON uploads (committing_digest) WHERE committing_digest IS NOT NULL;
CREATE INDEX repository_blobs_by_linked_at ON repository_blobs (linked_at);

CREATE TABLE blob_deletions (
  digest      TEXT PRIMARY KEY,
  started_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
)sql",
    // 5: per-layer scan inventories, keyed by layer digest.
    R"sql(
CREATE TABLE layer_inventories (
  digest          TEXT PRIMARY KEY,
  parser_version  INTEGER NOT NULL,
  inventory       TEXT NOT NULL
) STRICT, WITHOUT ROWID;
)sql",
    // 6: the vulnerability database. advisories is a rowid table (documents can be tens
    // of KiB, too large for WITHOUT ROWID) with its key as a unique index. vulndb_state
    // holds the one data version row; vulndb_imports the history of imports.
    R"sql(
CREATE TABLE advisories (
  source        TEXT NOT NULL,
  id            TEXT NOT NULL,
  ecosystem     TEXT NOT NULL,
  content_hash  TEXT NOT NULL,
  document      TEXT NOT NULL,
  UNIQUE (source, id)
) STRICT;

CREATE TABLE vulndb_state (
  singleton  INTEGER PRIMARY KEY CHECK (singleton = 0),
  version    INTEGER NOT NULL CHECK (version >= 0)
) STRICT;
INSERT INTO vulndb_state (singleton, version) VALUES (0, 0);

CREATE TABLE vulndb_imports (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  started_at     INTEGER NOT NULL,
  finished_at    INTEGER NOT NULL,
  path           TEXT NOT NULL,
  files_read     INTEGER NOT NULL,
  files_skipped  INTEGER NOT NULL,
  added          INTEGER NOT NULL,
  changed        INTEGER NOT NULL,
  unchanged      INTEGER NOT NULL,
  removed        INTEGER NOT NULL,
  version        INTEGER NOT NULL,
  details        TEXT NOT NULL
) STRICT;
)sql",
    // 7: the newest scan of each image, deleted with its manifest (and so with
    // its repository). findings_json is last: it can be large, and listings skip it.
    R"sql(
CREATE TABLE image_scans (
  repository_id         INTEGER NOT NULL,
  digest                TEXT NOT NULL,
  status                TEXT NOT NULL,
  description           TEXT NOT NULL DEFAULT '',
  started_at            INTEGER NOT NULL,
  completed_at          INTEGER,
  vulndb_version        TEXT NOT NULL DEFAULT '',
  severity_counts_json  TEXT NOT NULL DEFAULT '{}',
  last_manual_scan_at   INTEGER,
  findings_json         TEXT NOT NULL DEFAULT '[]',
  PRIMARY KEY (repository_id, digest),
  FOREIGN KEY (repository_id, digest) REFERENCES manifests (repository_id, digest) ON DELETE CASCADE
) STRICT;
)sql",
    // 8: an image's scan that did not complete keeps the findings of its latest complete
    // one (ImageScan::last_complete_findings_json).
    R"sql(
ALTER TABLE image_scans ADD COLUMN last_complete_findings_json TEXT NOT NULL DEFAULT '[]';
)sql",
};
static_assert(std::size(kMigrations) == SqliteMetaStore::kSchemaVersion,
              "kSchemaVersion must equal the number of migrations");

// Statements. Each is prepared once per connection and cached under its address.
constexpr char kBegin[] = "BEGIN";
constexpr char kBeginImmediate[] = "BEGIN IMMEDIATE";
constexpr char kCommit[] = "COMMIT";

constexpr char kRepositoryId[] = "SELECT id FROM repositories WHERE name = ?1";
constexpr char kInsertRepository[] =
    "INSERT INTO repositories (name, created_at, settings_json) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO NOTHING "
    "RETURNING id";
constexpr char kGetRepository[] = "SELECT id, name, created_at, settings_json FROM repositories WHERE name = ?1";
constexpr char kInsertAccessKey[] =
    "INSERT INTO access_keys (id, account_id, principal_arn, sealed_secret, created_at) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (id) DO NOTHING";
constexpr char kGetAccessKey[] =
    "SELECT id, account_id, principal_arn, sealed_secret, created_at FROM access_keys WHERE id = ?1";
constexpr char kDeleteAccessKey[] = "DELETE FROM access_keys WHERE id = ?1";
constexpr char kListAccessKeys[] =
    "SELECT id, account_id, principal_arn, sealed_secret, created_at FROM access_keys WHERE principal_arn = ?1 "
    "ORDER BY id";
// ?2 <= id < ?3 is the prefix as a range of the primary key.
constexpr char kListAccessKeysById[] =
    "SELECT id, account_id, principal_arn, sealed_secret, created_at FROM access_keys "
    "WHERE id > ?1 AND id >= ?2 AND id < ?3 ORDER BY id LIMIT ?4";
#define BERTH_IMAGE_COLUMNS                                                                              \
  "SELECT m.digest, m.media_type, m.artifact_type, m.pushed_at, m.last_pulled_at, "                        \
  "(SELECT coalesce(sum(b.size), 0) FROM manifest_blob_refs r JOIN blobs b ON b.digest = r.blob_digest "  \
  " WHERE r.repository_id = m.repository_id AND r.manifest_digest = m.digest), "                         \
  "(SELECT group_concat(name, char(10)) FROM (SELECT t.name FROM tags t "                                \
  " WHERE t.repository_id = m.repository_id AND t.manifest_digest = m.digest ORDER BY t.name)), "        \
  "m.subject_digest, "                                                                                   \
  "(SELECT group_concat(child_digest, char(10)) FROM (SELECT c.child_digest FROM manifest_children c "   \
  " WHERE c.repository_id = m.repository_id AND c.parent_digest = m.digest ORDER BY c.child_digest)) "   \
  "FROM manifests m "
constexpr char kListImages[] =
    BERTH_IMAGE_COLUMNS "WHERE m.repository_id = ?1 AND m.digest > ?2 ORDER BY m.digest LIMIT ?3";
constexpr char kGetImage[] = BERTH_IMAGE_COLUMNS "WHERE m.repository_id = ?1 AND m.digest = ?2";
#undef BERTH_IMAGE_COLUMNS
constexpr char kInsertAccount[] = "INSERT INTO accounts (id, created_at) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING";
constexpr char kListAccounts[] = "SELECT id FROM accounts ORDER BY id";
constexpr char kInsertPrincipal[] =
    "INSERT INTO principals (arn, account_id, kind, name, created_at) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (arn) DO NOTHING";
constexpr char kGetPrincipal[] = "SELECT arn, account_id, kind, name, created_at FROM principals WHERE arn = ?1";
constexpr char kListPrincipals[] =
    "SELECT arn, account_id, kind, name, created_at FROM principals WHERE account_id = ?1 ORDER BY arn";
constexpr char kDeletePrincipal[] = "DELETE FROM principals WHERE arn = ?1";
constexpr char kDeletePrincipalKeys[] = "DELETE FROM access_keys WHERE principal_arn = ?1";
constexpr char kPutPrincipalPolicy[] =
    "INSERT INTO principal_policies (principal_arn, name, document) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (principal_arn, name) DO UPDATE SET document = excluded.document";
constexpr char kListPrincipalPolicies[] =
    "SELECT name, document FROM principal_policies WHERE principal_arn = ?1 ORDER BY name";
constexpr char kSetRepositoryPolicy[] = "UPDATE repositories SET policy_text = ?2 WHERE name = ?1";
constexpr char kGetRepositoryPolicy[] = "SELECT policy_text FROM repositories WHERE name = ?1";
constexpr char kInitSetting[] = "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING";
constexpr char kGetSetting[] = "SELECT value FROM settings WHERE key = ?1";
constexpr char kPutSetting[] =
    "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
constexpr char kDeleteSetting[] = "DELETE FROM settings WHERE key = ?1";
// substr rather than LIKE: keys may hold '%' and '_'.
constexpr char kListSettings[] =
    "SELECT key, value FROM settings WHERE substr(key, 1, length(?1)) = ?1 AND key > ?2 ORDER BY key LIMIT ?3";
constexpr char kGetLayerInventory[] =
    "SELECT inventory FROM layer_inventories WHERE digest = ?1 AND parser_version = ?2";
constexpr char kPutLayerInventory[] =
    "INSERT INTO layer_inventories (digest, parser_version, inventory) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (digest) DO UPDATE SET parser_version = excluded.parser_version, inventory = excluded.inventory";
constexpr char kVulndbVersion[] = "SELECT version FROM vulndb_state WHERE singleton = 0";
constexpr char kBumpVulndbVersion[] = "UPDATE vulndb_state SET version = version + 1 WHERE singleton = 0";
constexpr char kAdvisoryHash[] = "SELECT content_hash FROM advisories WHERE source = ?1 AND id = ?2";
constexpr char kUpsertAdvisory[] =
    "INSERT INTO advisories (source, id, ecosystem, content_hash, document) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (source, id) DO UPDATE SET ecosystem = excluded.ecosystem, content_hash = excluded.content_hash, "
    "document = excluded.document";
constexpr char kAdvisoryIdsOfSource[] = "SELECT id FROM advisories WHERE source = ?1";
constexpr char kDeleteAdvisory[] = "DELETE FROM advisories WHERE source = ?1 AND id = ?2";
constexpr char kListAdvisories[] =
    "SELECT source, id, ecosystem, content_hash, document FROM advisories WHERE (source, id) > (?1, ?2) "
    "ORDER BY source, id LIMIT ?3";
constexpr char kAdvisoryCounts[] =
    "SELECT source, ecosystem, count(*) FROM advisories GROUP BY source, ecosystem ORDER BY source, ecosystem";
constexpr char kInsertVulndbImport[] =
    "INSERT INTO vulndb_imports (started_at, finished_at, path, files_read, files_skipped, added, changed, "
    "unchanged, removed, version, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING id";
constexpr char kListVulndbImports[] =
    "SELECT id, started_at, finished_at, path, files_read, files_skipped, added, changed, unchanged, removed, "
    "version, details FROM vulndb_imports ORDER BY id DESC LIMIT ?1";
constexpr char kPutImageScan[] =
    "INSERT INTO image_scans (repository_id, digest, status, description, started_at, completed_at, vulndb_version, "
    "severity_counts_json, findings_json, last_complete_findings_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
    "ON CONFLICT (repository_id, digest) DO UPDATE SET status = excluded.status, description = excluded.description, "
    "started_at = excluded.started_at, completed_at = excluded.completed_at, vulndb_version = excluded.vulndb_version, "
    "severity_counts_json = excluded.severity_counts_json, findings_json = excluded.findings_json, "
    "last_complete_findings_json = excluded.last_complete_findings_json";
constexpr char kGetImageScan[] =
    "SELECT digest, status, description, started_at, completed_at, vulndb_version, severity_counts_json, "
    "last_manual_scan_at, findings_json, last_complete_findings_json FROM image_scans WHERE repository_id = ?1 AND "
    "digest = ?2";
constexpr char kListImageScans[] =
    "SELECT digest, status, description, started_at, completed_at, vulndb_version, severity_counts_json, "
    "last_manual_scan_at FROM image_scans WHERE repository_id = ?1 AND digest > ?2 ORDER BY digest LIMIT ?3";
constexpr char kLastManualScan[] =
    "SELECT last_manual_scan_at, status, started_at, completed_at FROM image_scans WHERE repository_id = ?1 AND "
    "digest = ?2";
constexpr char kClaimManualScan[] =
    "INSERT INTO image_scans (repository_id, digest, status, started_at, last_manual_scan_at) "
    "VALUES (?1, ?2, 'IN_PROGRESS', ?3, ?3) "
    "ON CONFLICT (repository_id, digest) DO UPDATE SET last_manual_scan_at = excluded.last_manual_scan_at";
constexpr char kUpdateRepositorySettings[] =
    "UPDATE repositories SET settings_json = ?3 WHERE name = ?1 AND settings_json = ?2";
constexpr char kListRepositories[] = "SELECT name FROM repositories WHERE name > ?1 ORDER BY name LIMIT ?2";
constexpr char kRepositoryHasManifests[] = "SELECT EXISTS (SELECT 1 FROM manifests WHERE repository_id = ?1)";
constexpr char kDeleteRepository[] = "DELETE FROM repositories WHERE id = ?1";

constexpr char kInsertBlob[] =
    "INSERT INTO blobs (digest, size, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (digest) DO NOTHING";
constexpr char kBlobSize[] = "SELECT size FROM blobs WHERE digest = ?1";
// A re-link refreshes linked_at, so a later GC grace period counts from the newest push.
constexpr char kLinkBlob[] =
    "INSERT INTO repository_blobs (repository_id, digest, linked_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (repository_id, digest) DO UPDATE SET linked_at = excluded.linked_at";
// One statement, so it distinguishes an unknown repository from an unknown blob
// without a transaction (hot path).
constexpr char kLinkedBlobSize[] =
    "SELECT r.id, b.size FROM repositories r "
    "LEFT JOIN repository_blobs rb ON rb.repository_id = r.id AND rb.digest = ?2 "
    "LEFT JOIN blobs b ON b.digest = rb.digest "
    "WHERE r.name = ?1";
constexpr char kAnyBlobSize[] =
    "SELECT b.size FROM blobs b WHERE b.digest = ?1 "
    "AND EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest)";
constexpr char kBlobLinked[] = "SELECT 1 FROM repository_blobs WHERE repository_id = ?1 AND digest = ?2";
constexpr char kUnlinkBlob[] = "DELETE FROM repository_blobs WHERE repository_id = ?1 AND digest = ?2";

constexpr char kManifestExists[] = "SELECT 1 FROM manifests WHERE repository_id = ?1 AND digest = ?2";
constexpr char kListingIndex[] =
    "SELECT parent_digest FROM manifest_children WHERE repository_id = ?1 AND child_digest = ?2 LIMIT 1";
constexpr char kInsertManifest[] =
    "INSERT INTO manifests (repository_id, digest, media_type, artifact_type, subject_digest, size, "
    "annotations_json, pushed_at, content) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
    "ON CONFLICT (repository_id, digest) DO NOTHING";
constexpr char kInsertBlobRef[] =
    "INSERT INTO manifest_blob_refs (repository_id, manifest_digest, blob_digest) VALUES (?1, ?2, ?3) "
    "ON CONFLICT DO NOTHING";
constexpr char kInsertChild[] =
    "INSERT INTO manifest_children (repository_id, parent_digest, child_digest) VALUES (?1, ?2, ?3) "
    "ON CONFLICT DO NOTHING";
constexpr char kTagTarget[] = "SELECT manifest_digest FROM tags WHERE repository_id = ?1 AND name = ?2";
constexpr char kUpsertTag[] =
    "INSERT INTO tags (repository_id, name, manifest_digest, updated_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (repository_id, name) DO UPDATE SET manifest_digest = excluded.manifest_digest, "
    "updated_at = excluded.updated_at WHERE tags.manifest_digest <> excluded.manifest_digest";
// Manifest reads: one statement each (hot path); a NULL manifest column with a
// repository id means "repository exists, manifest does not".
constexpr char kGetManifest[] =
    "SELECT r.id, m.media_type, m.artifact_type, m.subject_digest, m.pushed_at, m.last_pulled_at, m.content "
    "FROM repositories r "
    "LEFT JOIN manifests m ON m.repository_id = r.id AND m.digest = ?2 "
    "WHERE r.name = ?1";
constexpr char kGetTaggedManifest[] =
    "SELECT r.id, m.media_type, m.artifact_type, m.subject_digest, m.pushed_at, m.last_pulled_at, m.content, "
    "m.digest "
    "FROM repositories r "
    "LEFT JOIN tags t ON t.repository_id = r.id AND t.name = ?2 "
    "LEFT JOIN manifests m ON m.repository_id = t.repository_id AND m.digest = t.manifest_digest "
    "WHERE r.name = ?1";
constexpr char kListTags[] = "SELECT name FROM tags WHERE repository_id = ?1 AND name > ?2 ORDER BY name LIMIT ?3";
constexpr char kDeleteManifest[] = "DELETE FROM manifests WHERE repository_id = ?1 AND digest = ?2";
constexpr char kDeleteTag[] = "DELETE FROM tags WHERE repository_id = ?1 AND name = ?2";
constexpr char kReferrers[] =
    "SELECT digest, media_type, artifact_type, size, annotations_json FROM manifests "
    "WHERE repository_id = ?1 AND subject_digest = ?2 AND (?3 IS NULL OR artifact_type = ?3) "
    "ORDER BY digest";
// max(): two pulls finishing out of order never move the time backwards.
constexpr char kRecordPull[] =
    "UPDATE manifests SET last_pulled_at = max(coalesce(last_pulled_at, ?3), ?3) "
    "WHERE repository_id = ?1 AND digest = ?2";

constexpr char kInsertUpload[] =
    "INSERT INTO uploads (id, repository_id, byte_offset, hash_state, started_at, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING";
constexpr char kGetUpload[] =
    "SELECT u.id, r.name, u.byte_offset, u.hash_state, u.started_at, u.updated_at "
    "FROM uploads u JOIN repositories r ON r.id = u.repository_id WHERE u.id = ?1";
constexpr char kAdvanceUpload[] =
    "UPDATE uploads SET byte_offset = ?3, hash_state = ?4, updated_at = ?5 WHERE id = ?1 AND byte_offset = ?2";
constexpr char kUploadOffset[] = "SELECT byte_offset FROM uploads WHERE id = ?1";
constexpr char kDeleteUpload[] = "DELETE FROM uploads WHERE id = ?1";
constexpr char kUploadsIdleSince[] =
    "SELECT u.id, r.name, u.byte_offset, u.hash_state, u.started_at, u.updated_at "
    "FROM uploads u JOIN repositories r ON r.id = u.repository_id WHERE u.updated_at < ?1 "
    "ORDER BY u.updated_at, u.id";

// Garbage collection (docs/gc.md).
constexpr char kStaleLinks[] =
    "SELECT rb.repository_id, r.name, rb.digest, b.size FROM repository_blobs rb "
    "JOIN repositories r ON r.id = rb.repository_id JOIN blobs b ON b.digest = rb.digest "
    "WHERE rb.linked_at < ?1 AND NOT EXISTS (SELECT 1 FROM manifest_blob_refs m "
    " WHERE m.blob_digest = rb.digest AND m.repository_id = rb.repository_id) "
    "ORDER BY r.name, rb.digest LIMIT ?2";
constexpr char kDropLink[] = "DELETE FROM repository_blobs WHERE repository_id = ?1 AND digest = ?2";
constexpr char kUnreferencedBlobs[] =
    "SELECT b.digest, b.size FROM blobs b WHERE b.digest > ?2 "
    "AND NOT EXISTS (SELECT 1 FROM manifest_blob_refs m WHERE m.blob_digest = b.digest) "
    "AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest AND rb.linked_at >= ?1) "
    "AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.committing_digest = b.digest) "
    "ORDER BY b.digest LIMIT ?3";
constexpr char kBlobRecorded[] =
    "SELECT EXISTS (SELECT 1 FROM blobs WHERE digest = ?1) OR EXISTS (SELECT 1 FROM blob_deletions WHERE digest = ?1)";
constexpr char kBlobInUse[] =
    "SELECT EXISTS (SELECT 1 FROM repository_blobs WHERE digest = ?1) "
    "OR EXISTS (SELECT 1 FROM manifest_blob_refs WHERE blob_digest = ?1) "
    "OR EXISTS (SELECT 1 FROM uploads WHERE committing_digest = ?1)";
constexpr char kDeleteBlobRow[] = "DELETE FROM blobs WHERE digest = ?1";
constexpr char kInsertDeletion[] =
    "INSERT INTO blob_deletions (digest, started_at) VALUES (?1, ?2) ON CONFLICT (digest) DO NOTHING";
constexpr char kDeleteDeletion[] = "DELETE FROM blob_deletions WHERE digest = ?1";
constexpr char kDeletionPending[] = "SELECT 1 FROM blob_deletions WHERE digest = ?1";
constexpr char kListDeletions[] = "SELECT digest FROM blob_deletions ORDER BY digest";
constexpr char kSetCommitting[] = "UPDATE uploads SET committing_digest = ?2, updated_at = ?3 WHERE id = ?1";
constexpr char kBlobTotals[] = "SELECT count(*), coalesce(sum(size), 0) FROM blobs";
constexpr char kManifestTotals[] = "SELECT count(*), coalesce(sum(size), 0) FROM manifests";
// A repository's blobs are those it may read (links) and those its manifests reference;
// UNION counts a blob once however many of its images share it.
constexpr char kRepositoryUsage[] =
    "WITH used (repository_id, digest) AS ("
    " SELECT repository_id, digest FROM repository_blobs UNION "
    " SELECT repository_id, blob_digest FROM manifest_blob_refs) "
    "SELECT r.name, "
    " (SELECT count(*) FROM manifests m WHERE m.repository_id = r.id), "
    " (SELECT coalesce(sum(m.size), 0) FROM manifests m WHERE m.repository_id = r.id), "
    " (SELECT count(*) FROM used u WHERE u.repository_id = r.id), "
    " (SELECT coalesce(sum(b.size), 0) FROM used u JOIN blobs b ON b.digest = u.digest WHERE u.repository_id = r.id) "
    "FROM repositories r ORDER BY r.name";

// A stored row that breaks an invariant this code keeps (a digest that does not
// parse, a negative size): a bug or a hand-edited file, reported as kInternal.
class CorruptRow : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace

enum class Role { kWriter, kRelaxedWriter, kReader };

class Connection {
 public:
  Connection(const std::string& path, Role role, int busy_timeout_ms) : db_(path, flags(role), busy_timeout_ms) {
    // Per-connection settings; none of them may run inside a transaction.
    db_.exec("PRAGMA foreign_keys = ON");
    if (role == Role::kWriter) db_.exec("PRAGMA synchronous = FULL");
    if (role == Role::kRelaxedWriter) db_.exec("PRAGMA synchronous = NORMAL");
    if (role != Role::kReader) db_.exec("PRAGMA journal_size_limit = 67108864");  // trim the WAL after checkpoints
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  SQLite::Database& db() { return db_; }

  // The cached statement for `sql`, reset and ready to bind.
  SQLite::Statement& statement(const char* sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) it = cache_.emplace(sql, std::make_unique<SQLite::Statement>(db_, sql)).first;
    it->second->tryReset();
    return *it->second;
  }

  bool in_transaction() const { return sqlite3_get_autocommit(db_.getHandle()) == 0; }

  // The PRAGMA data_version this connection returned last (SqliteMetaStore::data_version).
  std::optional<int64_t> seen_data_version;

  // Returns false when the connection is still inside a transaction afterwards.
  bool rollback_quietly() noexcept {
    if (!in_transaction()) return true;
    // An error may have left a statement mid-step; ROLLBACK needs none pending.
    for (auto& [sql, stmt] : cache_) stmt->tryReset();
    sqlite3_exec(db_.getHandle(), "ROLLBACK", nullptr, nullptr, nullptr);
    return !in_transaction();
  }

 private:
  static int flags(Role role) {
    // NOMUTEX: each connection is used by one thread at a time (the pool and the
    // write mutex hand it over), so SQLite's per-connection mutex is pure overhead.
    if (role == Role::kReader) return SQLite::OPEN_READONLY | SQLite::OPEN_NOMUTEX;
    return SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX;
  }

  SQLite::Database db_;
  // Declared after db_, so destroyed first: a handle cannot close with statements open.
  std::unordered_map<const char*, std::unique_ptr<SQLite::Statement>> cache_;
};

namespace {

// Borrows a cached statement for one execution and resets it afterwards, so no
// half-stepped SELECT keeps a read snapshot (and the WAL) pinned.
class Stmt {
 public:
  Stmt(Connection& connection, const char* sql) : s_(connection.statement(sql)) {}
  ~Stmt() { s_.tryReset(); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int index, int64_t value) {
    s_.bind(index, value);
    return *this;
  }
  Stmt& bind(int index, const std::string& text) {
    s_.bind(index, text);
    return *this;
  }
  Stmt& bind(int index, const Digest& digest) { return bind(index, digest.str()); }
  Stmt& bind_null(int index) {
    s_.bind(index);
    return *this;
  }
  Stmt& bind_blob(int index, const std::string& bytes) {
    if (bytes.size() > static_cast<size_t>(INT_MAX)) throw CorruptRow("value too large for a blob column");
    s_.bind(index, bytes.data(), static_cast<int>(bytes.size()));
    return *this;
  }

  bool step() { return s_.executeStep(); }
  int exec() { return s_.exec(); }  // rows changed

  bool is_null(int column) const { return s_.getColumn(column).isNull(); }
  int64_t int64(int column) const { return s_.getColumn(column).getInt64(); }
  std::string text(int column) const { return s_.getColumn(column).getString(); }
  std::string bytes(int column) const {
    const SQLite::Column c = s_.getColumn(column);
    const void* data = c.getBlob();  // before getBytes(), as SQLite asks
    const int size = c.getBytes();
    return size > 0 ? std::string(static_cast<const char*>(data), static_cast<size_t>(size)) : std::string();
  }
  Digest digest(int column) const {
    auto parsed = Digest::parse(text(column));
    if (!parsed) throw CorruptRow("stored digest does not parse");
    return std::move(*parsed);
  }
  uint64_t size(int column) const {
    const int64_t value = int64(column);
    if (value < 0) throw CorruptRow("stored size is negative");
    return static_cast<uint64_t>(value);
  }

 private:
  SQLite::Statement& s_;
};

// One transaction on a connection; rolled back unless committed.
class Transaction {
 public:
  Transaction(Connection& connection, const char* begin) : connection_(connection) {
    Stmt(connection_, begin).exec();
  }
  ~Transaction() {
    if (!committed_) connection_.rollback_quietly();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit() {
    Stmt(connection_, kCommit).exec();
    committed_ = true;
  }

 private:
  Connection& connection_;
  bool committed_ = false;
};

int64_t to_sql(uint64_t value, const char* what) {
  if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    throw std::out_of_range(what);
  }
  return static_cast<int64_t>(value);
}

int64_t sql_limit(size_t limit) {
  return limit > static_cast<size_t>(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                           : static_cast<int64_t>(limit);
}

tl::unexpected<Error> name_unknown(const std::string& repository) {
  return fail(ErrorCode::kNameUnknown, "repository '" + repository + "' does not exist");
}

tl::unexpected<Error> manifest_unknown(const std::string& repository, const std::string& reference) {
  return fail(ErrorCode::kManifestUnknown, "manifest '" + reference + "' is not in repository '" + repository + "'");
}

tl::unexpected<Error> upload_unknown() {
  return fail(ErrorCode::kBlobUploadUnknown, "upload session does not exist (it may have expired or completed)");
}

Result<int64_t> require_repository(Connection& c, const std::string& name) {
  Stmt s(c, kRepositoryId);
  s.bind(1, name);
  if (!s.step()) return name_unknown(name);
  return s.int64(0);
}

ManifestRecord manifest_row(const Stmt& s, Digest digest) {
  // Columns: 0 repository id, 1 media_type, 2 artifact_type, 3 subject, 4 pushed_at,
  // 5 last_pulled_at, 6 content.
  return ManifestRecord{
      .digest = std::move(digest),
      .media_type = s.text(1),
      .artifact_type = s.text(2),
      .subject = s.is_null(3) ? std::nullopt : std::optional<Digest>(s.digest(3)),
      .content = s.bytes(6),
      .pushed_at_ms = s.int64(4),
      .last_pulled_at_ms = s.is_null(5) ? std::nullopt : std::optional<int64_t>(s.int64(5)),
  };
}

UploadRecord upload_row(const Stmt& s) {
  UploadRecord record;
  record.id = s.text(0);
  record.repository = s.text(1);
  record.offset = s.size(2);
  record.hash_state = s.bytes(3);
  record.started_at_ms = s.int64(4);
  record.updated_at_ms = s.int64(5);
  return record;
}

tl::unexpected<Error> database_failure(spdlog::logger& log, const char* what, const SQLite::Exception& e) {
  const int code = e.getErrorCode();
  log.warn("metadata {}: {} (sqlite code {}, extended {})", what, e.what(), code, e.getExtendedErrorCode());
  // SQLite's own text for the primary code is generic ("database is locked"); the
  // exception text can carry SQL and is only logged.
  const int primary = code & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return fail(ErrorCode::kUnavailable, "the metadata database is busy; retry the request");
  }
  if (primary == SQLITE_FULL) {
    return fail(ErrorCode::kUnavailable, "the metadata database is out of disk space");
  }
  if (code < 0) return fail(ErrorCode::kInternal, "metadata database error");
  return fail(ErrorCode::kInternal, std::string("metadata database error: ") + sqlite3_errstr(code));
}

tl::unexpected<Error> internal_failure(spdlog::logger& log, const char* what, const std::exception& e) {
  log.error("metadata {}: {}", what, e.what());
  return fail(ErrorCode::kInternal, "internal metadata store error");
}

Result<void> migrate(Connection& c, spdlog::logger& log) {
  Transaction tx(c, kBeginImmediate);  // two processes opening at once migrate one after the other
  const int current = c.db().execAndGet("PRAGMA user_version").getInt();
  if (current > SqliteMetaStore::kSchemaVersion) {
    return fail(ErrorCode::kUnavailable, "the metadata database was written by a newer berth (schema version " +
                                             std::to_string(current) + ", this build knows up to " +
                                             std::to_string(SqliteMetaStore::kSchemaVersion) + "); upgrade berth");
  }
  if (current < 0) return fail(ErrorCode::kInternal, "the metadata database has an invalid schema version");
  if (current == SqliteMetaStore::kSchemaVersion) return {};
  for (int version = current; version < SqliteMetaStore::kSchemaVersion; ++version) {
    c.db().exec(kMigrations[version]);
  }
  c.db().exec("PRAGMA user_version = " + std::to_string(SqliteMetaStore::kSchemaVersion));
  {
    // A migration that rebuilds a table must not leave dangling references behind.
    SQLite::Statement check(c.db(), "PRAGMA foreign_key_check");
    if (check.executeStep()) {
      return fail(ErrorCode::kInternal, "metadata schema migration left inconsistent references");
    }
  }
  tx.commit();
  log.info("metadata schema migrated from version {} to {}", current, SqliteMetaStore::kSchemaVersion);
  return {};
}

}  // namespace
}  // namespace sqlite_detail

using sqlite_detail::Role;
using sqlite_detail::Stmt;
using sqlite_detail::Transaction;

// A read connection borrowed from the pool for one call.
class SqliteMetaStore::ReadLease {
 public:
  explicit ReadLease(SqliteMetaStore& store) : store_(store), connection_(store.acquire_reader()) {}
  ~ReadLease() { store_.release_reader(std::move(connection_)); }
  ReadLease(const ReadLease&) = delete;
  ReadLease& operator=(const ReadLease&) = delete;
  Connection& connection() { return *connection_; }

 private:
  SqliteMetaStore& store_;
  std::unique_ptr<Connection> connection_;
};

SqliteMetaStore::SqliteMetaStore(std::string path, const Options& options)
    : path_(std::move(path)), options_(options), log_(log::get("store.meta")) {}

SqliteMetaStore::~SqliteMetaStore() = default;

Result<std::unique_ptr<SqliteMetaStore>> SqliteMetaStore::open(const std::string& path) {
  return open(path, Options{});
}

Result<std::unique_ptr<SqliteMetaStore>> SqliteMetaStore::open(const std::string& path, const Options& options) {
  auto log = log::get("store.meta");
  // SQLite's memory statistics take one process-wide mutex on every allocation, which
  // the I/O threads' concurrent reads would queue on; berth never reads the statistics.
  // Only possible before SQLite initializes (else SQLITE_MISUSE, and nothing changes).
  static std::once_flag no_memstatus;
  std::call_once(no_memstatus, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  try {
    std::unique_ptr<SqliteMetaStore> store(new SqliteMetaStore(path, options));
    store->writer_ = std::make_unique<Connection>(path, Role::kWriter, options.busy_timeout_ms);
    // Persistent in the file; every later connection (and process) uses WAL too.
    const std::string mode = store->writer_->db().execAndGet("PRAGMA journal_mode = WAL").getString();
    if (mode != "wal") {
      return fail(ErrorCode::kInternal, "the metadata database cannot use write-ahead logging on this file system");
    }
    BERTH_TRY_VOID(sqlite_detail::migrate(*store->writer_, *log));
    store->relaxed_writer_ = std::make_unique<Connection>(path, Role::kRelaxedWriter, options.busy_timeout_ms);
    // Open one reader now, so a problem shows at startup rather than on a request.
    store->release_reader(store->acquire_reader());
    if (options.watch_wal_index) {
      // Through a connection of its own, never used otherwise nor replaced (a writer is,
      // when a rollback fails), so the mapping lives exactly as long as the watch.
      store->watch_connection_ = std::make_unique<Connection>(path, Role::kReader, options.busy_timeout_ms);
      store->wal_watch_ = sqlite_detail::WalIndexWatch::open(store->watch_connection_->db().getHandle());
      if (store->wal_watch_) {
        log->debug("metadata data version: watching the WAL index of {}", path);
      } else {
        log->warn("metadata data version: cannot map the WAL index of {}; each check reads the database", path);
      }
    }
    return store;
  } catch (const SQLite::Exception& e) {
    return sqlite_detail::database_failure(*log, "open", e);
  } catch (const std::exception& e) {
    return sqlite_detail::internal_failure(*log, "open", e);
  }
}

std::unique_ptr<SqliteMetaStore::Connection> SqliteMetaStore::acquire_reader() {
  {
    std::lock_guard lock(pool_mu_);
    if (!idle_readers_.empty()) {
      auto connection = std::move(idle_readers_.back());  // LIFO: the warmest statement cache
      idle_readers_.pop_back();
      return connection;
    }
  }
  return std::make_unique<Connection>(path_, Role::kReader, options_.busy_timeout_ms);  // opened outside the lock
}

void SqliteMetaStore::release_reader(std::unique_ptr<Connection> connection) noexcept {
  if (!connection || !connection->rollback_quietly()) return;  // a stuck one is closed, not reused
  try {
    std::lock_guard lock(pool_mu_);
    if (idle_readers_.size() < sqlite_detail::kMaxIdleReaders) {
      idle_readers_.push_back(std::move(connection));
      return;
    }
  } catch (...) {
    // Could not keep it: closing it below is correct too.
  }
  // Beyond the idle cap: `connection` closes here, outside the lock.
}

template <class Body>
auto SqliteMetaStore::read(const char* what, Body&& body) -> decltype(body(std::declval<Connection&>())) {
  try {
    ReadLease lease(*this);
    return body(lease.connection());
  } catch (const SQLite::Exception& e) {
    return sqlite_detail::database_failure(*log_, what, e);
  } catch (const std::exception& e) {
    return sqlite_detail::internal_failure(*log_, what, e);
  }
}

template <class Body>
auto SqliteMetaStore::write(const char* what, Body&& body, Durability durability)
    -> decltype(body(std::declval<Connection&>())) {
  try {
    std::lock_guard lock(write_mu_);
    std::unique_ptr<Connection>& slot = durability == Durability::kFull ? writer_ : relaxed_writer_;
    if (!slot->rollback_quietly()) {
      // A failed rollback left the handle inside a transaction; closing it rolls back.
      slot = std::make_unique<Connection>(path_, durability == Durability::kFull ? Role::kWriter : Role::kRelaxedWriter,
                                          options_.busy_timeout_ms);
    }
    Transaction tx(*slot, sqlite_detail::kBeginImmediate);
    auto result = body(*slot);
    if (result) tx.commit();
    return result;
  } catch (const SQLite::Exception& e) {
    return sqlite_detail::database_failure(*log_, what, e);
  } catch (const std::exception& e) {
    return sqlite_detail::internal_failure(*log_, what, e);
  }
}

// ---- repositories ----

Result<Repository> SqliteMetaStore::create_repository(const std::string& name, int64_t now_ms,
                                                      const std::string& settings_json) {
  return write("create_repository", [&](Connection& c) -> Result<Repository> {
    Stmt s(c, sqlite_detail::kInsertRepository);
    s.bind(1, name).bind(2, now_ms).bind(3, settings_json);
    if (!s.step()) return fail(ErrorCode::kRepositoryExists, "repository '" + name + "' already exists");
    return Repository{.id = s.int64(0), .name = name, .created_at_ms = now_ms, .settings_json = settings_json};
  });
}

Result<Repository> SqliteMetaStore::get_repository(const std::string& name) {
  return read("get_repository", [&](Connection& c) -> Result<Repository> {
    Stmt s(c, sqlite_detail::kGetRepository);
    s.bind(1, name);
    if (!s.step()) return sqlite_detail::name_unknown(name);
    return Repository{.id = s.int64(0), .name = s.text(1), .created_at_ms = s.int64(2), .settings_json = s.text(3)};
  });
}

Result<std::vector<std::string>> SqliteMetaStore::list_repositories(const std::string& after, size_t limit) {
  return read("list_repositories", [&](Connection& c) -> Result<std::vector<std::string>> {
    std::vector<std::string> names;
    Stmt s(c, sqlite_detail::kListRepositories);
    s.bind(1, after).bind(2, sqlite_detail::sql_limit(limit));
    while (s.step()) names.push_back(s.text(0));
    return names;
  });
}

Result<void> SqliteMetaStore::delete_repository(const std::string& name, bool force) {
  return write("delete_repository", [&](Connection& c) -> Result<void> {
    BERTH_TRY(const int64_t repository_id, sqlite_detail::require_repository(c, name));
    if (!force) {
      Stmt s(c, sqlite_detail::kRepositoryHasManifests);
      s.bind(1, repository_id);
      if (s.step() && s.int64(0) != 0) {
        return fail(ErrorCode::kRepositoryNotEmpty,
                    "repository '" + name + "' still holds images; delete them first or force the delete");
      }
    }
    // Cascades to blob links, manifests (and their tags and references) and uploads.
    Stmt(c, sqlite_detail::kDeleteRepository).bind(1, repository_id).exec();
    return {};
  });
}

// ---- blobs ----

Result<void> SqliteMetaStore::link_blob(const std::string& repository, const Digest& digest, uint64_t size,
                                        int64_t now_ms) {
  return write("link_blob", [&](Connection& c) -> Result<void> {
    BERTH_TRY(const int64_t repository_id, sqlite_detail::require_repository(c, repository));
    const int64_t sql_size = sqlite_detail::to_sql(size, "blob size out of range");
    if (Stmt(c, sqlite_detail::kDeletionPending).bind(1, digest).step()) {
      return fail(ErrorCode::kUnavailable, "blob " + digest.str() + " is being garbage-collected; retry the upload");
    }
    Stmt(c, sqlite_detail::kInsertBlob).bind(1, digest).bind(2, sql_size).bind(3, now_ms).exec();
    {
      Stmt s(c, sqlite_detail::kBlobSize);
      s.bind(1, digest);
      if (!s.step()) throw sqlite_detail::CorruptRow("blob row missing after insert");
      if (s.size(0) != size) {
        // Same digest, other length: impossible for honest content, so a caller bug.
        return fail(ErrorCode::kSizeInvalid, "blob " + digest.str() + " is recorded with size " +
                                                 std::to_string(s.size(0)) + ", not " + std::to_string(size));
      }
    }
    Stmt(c, sqlite_detail::kLinkBlob).bind(1, repository_id).bind(2, digest).bind(3, now_ms).exec();
    return {};
  });
}

Result<uint64_t> SqliteMetaStore::linked_blob_size(const std::string& repository, const Digest& digest) {
  return read("linked_blob_size", [&](Connection& c) -> Result<uint64_t> {
    Stmt s(c, sqlite_detail::kLinkedBlobSize);
    s.bind(1, repository).bind(2, digest);
    if (!s.step()) return sqlite_detail::name_unknown(repository);
    if (s.is_null(1)) {
      return fail(ErrorCode::kBlobUnknown, "blob " + digest.str() + " is not in repository '" + repository + "'");
    }
    return s.size(1);
  });
}

Result<uint64_t> SqliteMetaStore::any_blob_size(const Digest& digest) {
  return read("any_blob_size", [&](Connection& c) -> Result<uint64_t> {
    Stmt s(c, sqlite_detail::kAnyBlobSize);
    s.bind(1, digest);
    if (!s.step()) return fail(ErrorCode::kBlobUnknown, "blob " + digest.str() + " is not in any repository");
    return s.size(0);
  });
}

Result<void> SqliteMetaStore::unlink_blob(const std::string& repository, const Digest& digest) {
  return write("unlink_blob", [&](Connection& c) -> Result<void> {
    BERTH_TRY(const int64_t repository_id, sqlite_detail::require_repository(c, repository));
    // The blobs row stays: GC removes it with the bytes once nothing references it.
    if (Stmt(c, sqlite_detail::kUnlinkBlob).bind(1, repository_id).bind(2, digest).exec() == 0) {
      return fail(ErrorCode::kBlobUnknown, "blob " + digest.str() + " is not in repository '" + repository + "'");
    }
    return {};
  });
}

// ---- manifests ----

Result<PutManifestOutcome> SqliteMetaStore::put_manifest(const std::string& repository, const NewManifest& manifest,
                                                         int64_t now_ms) {
  return write("put_manifest", [&](Connection& c) -> Result<PutManifestOutcome> {
    BERTH_TRY(const int64_t repository_id, sqlite_detail::require_repository(c, repository));
    // Checked on every put, re-puts included: a blob may have been unlinked since.
    for (const Digest& blob : manifest.blobs) {
      Stmt s(c, sqlite_detail::kBlobLinked);
      s.bind(1, repository_id).bind(2, blob);
      if (!s.step()) {
        return fail(ErrorCode::kManifestBlobUnknown,
                    "manifest references blob " + blob.str() + ", which is not in repository '" + repository + "'");
      }
    }
    for (const Digest& child : manifest.children) {
      Stmt s(c, sqlite_detail::kManifestExists);
      s.bind(1, repository_id).bind(2, child);
      if (!s.step()) {
        return fail(ErrorCode::kManifestBlobUnknown, "index references manifest " + child.str() +
                                                         ", which is not in repository '" + repository + "'");
      }
    }

    PutManifestOutcome outcome;
    {
      // An existing manifest keeps its row as first pushed (same digest, same bytes).
      Stmt s(c, sqlite_detail::kInsertManifest);
      s.bind(1, repository_id)
          .bind(2, manifest.digest)
          .bind(3, manifest.media_type)
          .bind(4, manifest.artifact_type)
          .bind(6, static_cast<int64_t>(manifest.content.size()))
          .bind(7, manifest.annotations_json)
          .bind(8, now_ms)
          .bind_blob(9, manifest.content);
      if (manifest.subject) {
        s.bind(5, *manifest.subject);
      } else {
        s.bind_null(5);
      }
      outcome.created = s.exec() == 1;
    }
    if (outcome.created) {
      for (const Digest& blob : manifest.blobs) {
        Stmt(c, sqlite_detail::kInsertBlobRef).bind(1, repository_id).bind(2, manifest.digest).bind(3, blob).exec();
      }
      for (const Digest& child : manifest.children) {
        Stmt(c, sqlite_detail::kInsertChild).bind(1, repository_id).bind(2, manifest.digest).bind(3, child).exec();
      }
    }

    if (manifest.tag) {
      {
        Stmt s(c, sqlite_detail::kTagTarget);
        s.bind(1, repository_id).bind(2, *manifest.tag);
        if (s.step() && s.text(0) != manifest.digest.str()) outcome.previous_tag_target = s.digest(0);
      }
      if (outcome.previous_tag_target && manifest.tag_immutable) {
        // Rolled back with everything above: nothing of this push is kept.
        return fail(ErrorCode::kTagImmutable, "The image tag '" + *manifest.tag + "' already exists in the '" +
                                                  repository +
                                                  "' repository and cannot be overwritten because the tag is immutable.");
      }
      Stmt(c, sqlite_detail::kUpsertTag)
          .bind(1, repository_id)
          .bind(2, *manifest.tag)
          .bind(3, manifest.digest)
          .bind(4, now_ms)
          .exec();
    }
    return outcome;
  });
}

Result<ManifestRecord> SqliteMetaStore::get_manifest(const std::string& repository, const Digest& digest) {
  return read("get_manifest", [&](Connection& c) -> Result<ManifestRecord> {
    Stmt s(c, sqlite_detail::kGetManifest);
    s.bind(1, repository).bind(2, digest);
    if (!s.step()) return sqlite_detail::name_unknown(repository);
    if (s.is_null(1)) return sqlite_detail::manifest_unknown(repository, digest.str());
    return sqlite_detail::manifest_row(s, digest);
  });
}

Result<ManifestRecord> SqliteMetaStore::get_tagged_manifest(const std::string& repository, const std::string& tag) {
  return read("get_tagged_manifest", [&](Connection& c) -> Result<ManifestRecord> {
    Stmt s(c, sqlite_detail::kGetTaggedManifest);
    s.bind(1, repository).bind(2, tag);
    if (!s.step()) return sqlite_detail::name_unknown(repository);
    if (s.is_null(1)) return sqlite_detail::manifest_unknown(repository, tag);
    return sqlite_detail::manifest_row(s, s.digest(7));
  });
}

Result<std::vector<std::string>> SqliteMetaStore::list_tags(const std::string& repository, const std::string& after,
                                                            size_t limit) {
  return read("list_tags", [&](Connection& c) -> Result<std::vector<std::string>> {
    Transaction snapshot(c, sqlite_detail::kBegin);  // the repository check and the list see one state
    BERTH_TRY(const int64_t repository_id, sqlite_detail::require_repository(c, repository));
    std::vector<std::string> tags;
    Stmt s(c, sqlite_detail::kListTags);
    s.bind(1, repository_id).bind(2, after).bind(3, sqlite_detail::sql_limit(limit));
    while (s.step()) tags.push_back(s.text(0));
    return tags;
  });
}

Result<void> SqliteMetaStore::delete_manifest(const std::string& repository, const Digest& digest) {
  return write("delete_manifest", [&](Connection& c) -> Result<void> {
    BERTH_TRY(const int64_t repository_id, sqlite_detail::require_repository(c, repository));
    {
      Stmt parent(c, sqlite_detail::kListingIndex);
      parent.bind(1, repository_id).bind(2, digest);
      if (parent.step()) {
        return fail(ErrorCode::kManifestReferenced, "manifest " + digest.str() + " is listed by index " +
                                                        parent.text(0) + "; delete the index first");
      }
    }
    // Cascades to its tags, blob references and child references.
    if (Stmt(c, sqlite_detail::kDeleteManifest).bind(1, repository_id).bind(2, digest).exec() == 0) {
      return sqlite_detail::manifest_unknown(repository, digest.str());
    }
    return {};
  });
}

Result<void> SqliteMetaStore::delete_tag(const std::string& repository, const std::string& tag) {
  return write("delete_tag", [&](Connection& c) -> Result<void> {
    BERTH_TRY(const int64_t repository_id, sqlite_detail::require_repository(c, repository));
    if (Stmt(c, sqlite_detail::kDeleteTag).bind(1, repository_id).bind(2, tag).exec() == 0) {
      return sqlite_detail::manifest_unknown(repository, tag);
    }
    return {};
  });
}

Result<std::vector<Referrer>> SqliteMetaStore::referrers(const std::string& repository, const Digest& subject,
                                                         const std::optional<std::string>& artifact_type) {
  return read("referrers", [&](Connection& c) -> Result<std::vector<Referrer>> {
    Transaction snapshot(c, sqlite_detail::kBegin);
    BERTH_TRY(const int64_t repository_id, sqlite_detail::require_repository(c, repository));
    Stmt s(c, sqlite_detail::kReferrers);
    s.bind(1, repository_id).bind(2, subject);
    if (artifact_type) {
      s.bind(3, *artifact_type);
    } else {
      s.bind_null(3);
    }
    std::vector<Referrer> out;
    while (s.step()) {
      out.push_back(Referrer{.digest = s.digest(0),
                             .media_type = s.text(1),
                             .artifact_type = s.text(2),
                             .size = s.int64(3),
                             .annotations_json = s.text(4)});
    }
    return out;
  });
}

Result<void> SqliteMetaStore::record_pull(const std::string& repository, const Digest& digest, int64_t now_ms) {
  return write(
      "record_pull",
      [&](Connection& c) -> Result<void> {
        BERTH_TRY(const int64_t repository_id, sqlite_detail::require_repository(c, repository));
        if (Stmt(c, sqlite_detail::kRecordPull).bind(1, repository_id).bind(2, digest).bind(3, now_ms).exec() == 0) {
          return sqlite_detail::manifest_unknown(repository, digest.str());
        }
        return {};
      },
      Durability::kNormal);
}

// ---- uploads ----

Result<void> SqliteMetaStore::create_upload(const UploadRecord& upload) {
  return write("create_upload", [&](Connection& c) -> Result<void> {
    BERTH_TRY(const int64_t repository_id, sqlite_detail::require_repository(c, upload.repository));
    const int changed = Stmt(c, sqlite_detail::kInsertUpload)
                            .bind(1, upload.id)
                            .bind(2, repository_id)
                            .bind(3, sqlite_detail::to_sql(upload.offset, "upload offset out of range"))
                            .bind_blob(4, upload.hash_state)
                            .bind(5, upload.started_at_ms)
                            .bind(6, upload.updated_at_ms)
                            .exec();
    if (changed == 0) return fail(ErrorCode::kBlobUploadInvalid, "an upload session with this id already exists");
    return {};
  }, Durability::kNormal);
}

Result<UploadRecord> SqliteMetaStore::get_upload(const std::string& id) {
  return read("get_upload", [&](Connection& c) -> Result<UploadRecord> {
    Stmt s(c, sqlite_detail::kGetUpload);
    s.bind(1, id);
    if (!s.step()) return sqlite_detail::upload_unknown();
    return sqlite_detail::upload_row(s);
  });
}

Result<void> SqliteMetaStore::advance_upload(const std::string& id, uint64_t expected_offset, uint64_t new_offset,
                                             const std::string& hash_state, int64_t now_ms) {
  return write("advance_upload", [&](Connection& c) -> Result<void> {
    const int changed = Stmt(c, sqlite_detail::kAdvanceUpload)
                            .bind(1, id)
                            .bind(2, sqlite_detail::to_sql(expected_offset, "upload offset out of range"))
                            .bind(3, sqlite_detail::to_sql(new_offset, "upload offset out of range"))
                            .bind_blob(4, hash_state)
                            .bind(5, now_ms)
                            .exec();
    if (changed == 1) return {};
    Stmt s(c, sqlite_detail::kUploadOffset);
    s.bind(1, id);
    if (!s.step()) return sqlite_detail::upload_unknown();
    return fail(ErrorCode::kRangeInvalid, "upload is at offset " + std::to_string(s.size(0)) + ", not " +
                                              std::to_string(expected_offset) + "; resume from there");
  }, Durability::kNormal);
}

Result<void> SqliteMetaStore::delete_upload(const std::string& id) {
  return write("delete_upload", [&](Connection& c) -> Result<void> {
    if (Stmt(c, sqlite_detail::kDeleteUpload).bind(1, id).exec() == 0) return sqlite_detail::upload_unknown();
    return {};
  });
}

Result<std::vector<UploadRecord>> SqliteMetaStore::uploads_idle_since(int64_t before_ms) {
  return read("uploads_idle_since", [&](Connection& c) -> Result<std::vector<UploadRecord>> {
    std::vector<UploadRecord> out;
    Stmt s(c, sqlite_detail::kUploadsIdleSince);
    s.bind(1, before_ms);
    while (s.step()) out.push_back(sqlite_detail::upload_row(s));
    return out;
  });
}

}  // namespace berth::store

namespace berth::store {
namespace {

AccessKeyRecord access_key_row(Stmt& s) {
  return AccessKeyRecord{.id = s.text(0),
                         .account_id = s.text(1),
                         .principal_arn = s.text(2),
                         .sealed_secret = s.bytes(3),
                         .created_at_ms = s.int64(4)};
}

}  // namespace

Result<void> SqliteMetaStore::create_access_key(const AccessKeyRecord& key) {
  return write("create_access_key", [&](Connection& c) -> Result<void> {
    Stmt s(c, sqlite_detail::kInsertAccessKey);
    s.bind(1, key.id).bind(2, key.account_id).bind(3, key.principal_arn).bind_blob(4, key.sealed_secret);
    s.bind(5, key.created_at_ms);
    if (s.exec() == 0) return fail(ErrorCode::kInvalidParameter, "access key " + key.id + " already exists");
    return {};
  });
}

Result<AccessKeyRecord> SqliteMetaStore::get_access_key(const std::string& id) {
  return read("get_access_key", [&](Connection& c) -> Result<AccessKeyRecord> {
    Stmt s(c, sqlite_detail::kGetAccessKey);
    s.bind(1, id);
    if (!s.step()) return fail(ErrorCode::kNotFound, "no access key " + id);
    return access_key_row(s);
  });
}

Result<void> SqliteMetaStore::delete_access_key(const std::string& id) {
  return write("delete_access_key", [&](Connection& c) -> Result<void> {
    if (Stmt(c, sqlite_detail::kDeleteAccessKey).bind(1, id).exec() == 0) {
      return fail(ErrorCode::kNotFound, "no access key " + id);
    }
    return {};
  });
}

Result<std::vector<AccessKeyRecord>> SqliteMetaStore::list_access_keys(const std::string& principal_arn) {
  return read("list_access_keys", [&](Connection& c) -> Result<std::vector<AccessKeyRecord>> {
    std::vector<AccessKeyRecord> out;
    Stmt s(c, sqlite_detail::kListAccessKeys);
    s.bind(1, principal_arn);
    while (s.step()) out.push_back(access_key_row(s));
    return out;
  });
}

Result<std::vector<AccessKeyRecord>> SqliteMetaStore::list_access_keys_by_id(const std::string& id_prefix,
                                                                             const std::string& after, size_t limit) {
  // Access key ids are ASCII: the prefix with its last character incremented bounds the range.
  if (id_prefix.empty() || static_cast<unsigned char>(id_prefix.back()) >= 0x7f) {
    return fail(ErrorCode::kInvalidParameter, "an access key id prefix must be ASCII and not empty");
  }
  std::string upper = id_prefix;
  ++upper.back();
  return read("list_access_keys_by_id", [&](Connection& c) -> Result<std::vector<AccessKeyRecord>> {
    std::vector<AccessKeyRecord> out;
    Stmt s(c, sqlite_detail::kListAccessKeysById);
    s.bind(1, after).bind(2, id_prefix).bind(3, upper).bind(4, sqlite_detail::sql_limit(limit));
    while (s.step()) out.push_back(access_key_row(s));
    return out;
  });
}

// ---- accounts, principals, policies ----

Result<void> SqliteMetaStore::create_account(const std::string& account_id, int64_t now_ms) {
  return write("create_account", [&](Connection& c) -> Result<void> {
    if (Stmt(c, sqlite_detail::kInsertAccount).bind(1, account_id).bind(2, now_ms).exec() == 0) {
      return fail(ErrorCode::kInvalidParameter, "account " + account_id + " already exists");
    }
    return {};
  });
}

Result<std::vector<std::string>> SqliteMetaStore::list_accounts() {
  return read("list_accounts", [&](Connection& c) -> Result<std::vector<std::string>> {
    std::vector<std::string> out;
    Stmt s(c, sqlite_detail::kListAccounts);
    while (s.step()) out.push_back(s.text(0));
    return out;
  });
}

namespace {
PrincipalRecord principal_row(Stmt& s) {
  return PrincipalRecord{
      .arn = s.text(0), .account_id = s.text(1), .kind = s.text(2), .name = s.text(3), .created_at_ms = s.int64(4)};
}
}  // namespace

Result<void> SqliteMetaStore::create_principal(const PrincipalRecord& p) {
  return write("create_principal", [&](Connection& c) -> Result<void> {
    Stmt s(c, sqlite_detail::kInsertPrincipal);
    s.bind(1, p.arn).bind(2, p.account_id).bind(3, p.kind).bind(4, p.name).bind(5, p.created_at_ms);
    if (s.exec() == 0) return fail(ErrorCode::kInvalidParameter, p.arn + " already exists");
    return {};
  });
}

Result<PrincipalRecord> SqliteMetaStore::get_principal(const std::string& arn) {
  return read("get_principal", [&](Connection& c) -> Result<PrincipalRecord> {
    Stmt s(c, sqlite_detail::kGetPrincipal);
    s.bind(1, arn);
    if (!s.step()) return fail(ErrorCode::kNotFound, "no principal " + arn);
    return principal_row(s);
  });
}

Result<std::vector<PrincipalRecord>> SqliteMetaStore::list_principals(const std::string& account_id) {
  return read("list_principals", [&](Connection& c) -> Result<std::vector<PrincipalRecord>> {
    std::vector<PrincipalRecord> out;
    Stmt s(c, sqlite_detail::kListPrincipals);
    s.bind(1, account_id);
    while (s.step()) out.push_back(principal_row(s));
    return out;
  });
}

Result<void> SqliteMetaStore::delete_principal(const std::string& arn) {
  return write("delete_principal", [&](Connection& c) -> Result<void> {
    // Policies go by cascade; access keys name the principal by ARN only (the root has no
    // principals row), so they are deleted here.
    if (Stmt(c, sqlite_detail::kDeletePrincipal).bind(1, arn).exec() == 0) {
      return fail(ErrorCode::kNotFound, "no principal " + arn);
    }
    Stmt(c, sqlite_detail::kDeletePrincipalKeys).bind(1, arn).exec();
    return {};
  });
}

Result<void> SqliteMetaStore::put_principal_policy(const std::string& arn, const std::string& name,
                                                   const std::string& document) {
  return write("put_principal_policy", [&](Connection& c) -> Result<void> {
    Stmt check(c, sqlite_detail::kGetPrincipal);
    check.bind(1, arn);
    if (!check.step()) return fail(ErrorCode::kNotFound, "no principal " + arn);
    Stmt(c, sqlite_detail::kPutPrincipalPolicy).bind(1, arn).bind(2, name).bind(3, document).exec();
    return {};
  });
}

Result<std::vector<PrincipalPolicyRecord>> SqliteMetaStore::list_principal_policies(const std::string& arn) {
  return read("list_principal_policies", [&](Connection& c) -> Result<std::vector<PrincipalPolicyRecord>> {
    std::vector<PrincipalPolicyRecord> out;
    Stmt s(c, sqlite_detail::kListPrincipalPolicies);
    s.bind(1, arn);
    while (s.step()) out.push_back(PrincipalPolicyRecord{.name = s.text(0), .document = s.text(1)});
    return out;
  });
}

Result<void> SqliteMetaStore::set_repository_policy(const std::string& repository, const std::string& text) {
  return write("set_repository_policy", [&](Connection& c) -> Result<void> {
    if (Stmt(c, sqlite_detail::kSetRepositoryPolicy).bind(1, repository).bind(2, text).exec() == 0) {
      return sqlite_detail::name_unknown(repository);
    }
    return {};
  });
}

Result<std::optional<std::string>> SqliteMetaStore::get_repository_policy(const std::string& repository) {
  return read("get_repository_policy", [&](Connection& c) -> Result<std::optional<std::string>> {
    Stmt s(c, sqlite_detail::kGetRepositoryPolicy);
    s.bind(1, repository);
    if (!s.step()) return sqlite_detail::name_unknown(repository);
    if (s.is_null(0)) return std::optional<std::string>();
    return std::optional<std::string>(s.text(0));
  });
}

Result<void> SqliteMetaStore::delete_repository_policy(const std::string& repository) {
  return write("delete_repository_policy", [&](Connection& c) -> Result<void> {
    if (Stmt(c, sqlite_detail::kSetRepositoryPolicy).bind(1, repository).bind_null(2).exec() == 0) {
      return sqlite_detail::name_unknown(repository);
    }
    return {};
  });
}

Result<std::string> SqliteMetaStore::setting_or_init(const std::string& key, const std::string& initial) {
  return write("setting_or_init", [&](Connection& c) -> Result<std::string> {
    Stmt(c, sqlite_detail::kInitSetting).bind(1, key).bind(2, initial).exec();
    Stmt s(c, sqlite_detail::kGetSetting);
    s.bind(1, key);
    if (!s.step()) return fail(ErrorCode::kInternal, "setting vanished");
    return s.text(0);
  });
}

}  // namespace berth::store

namespace berth::store {

namespace {

// One row of kListImages or kGetImage.
// Newline-joined text (group_concat) as a list; NULL is the empty list.
std::vector<std::string> split_lines(const Stmt& s, int column) {
  std::vector<std::string> out;
  if (s.is_null(column)) return out;
  const std::string joined = s.text(column);
  size_t start = 0;
  while (start <= joined.size()) {
    const size_t nl = joined.find('\n', start);
    out.push_back(joined.substr(start, nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out;
}

ImageRecord image_row(const Stmt& s) {
  ImageRecord img{.digest = s.digest(0),
                  .tags = split_lines(s, 6),
                  .media_type = s.text(1),
                  .artifact_type = s.text(2),
                  .size_bytes = s.size(5),
                  .pushed_at_ms = s.int64(3),
                  .last_pulled_at_ms = std::nullopt};
  if (!s.is_null(4)) img.last_pulled_at_ms = s.int64(4);
  if (!s.is_null(7)) img.subject = s.digest(7);
  for (const auto& child : split_lines(s, 8)) {
    if (auto d = Digest::parse(child)) img.children.push_back(*d);  // stored validated
  }
  return img;
}

}  // namespace

Result<std::vector<ImageRecord>> SqliteMetaStore::list_images(const std::string& repository, const std::string& after,
                                                              size_t limit) {
  return read("list_images", [&](Connection& c) -> Result<std::vector<ImageRecord>> {
    Transaction snapshot(c, sqlite_detail::kBegin);
    BERTH_TRY(const int64_t repository_id, sqlite_detail::require_repository(c, repository));
    Stmt s(c, sqlite_detail::kListImages);
    s.bind(1, repository_id).bind(2, after).bind(3, sqlite_detail::sql_limit(limit));
    std::vector<ImageRecord> out;
    while (s.step()) out.push_back(image_row(s));
    return out;
  });
}

Result<ImageRecord> SqliteMetaStore::get_image(const std::string& repository, const Digest& digest) {
  return read("get_image", [&](Connection& c) -> Result<ImageRecord> {
    Transaction snapshot(c, sqlite_detail::kBegin);
    BERTH_TRY(const int64_t repository_id, sqlite_detail::require_repository(c, repository));
    Stmt s(c, sqlite_detail::kGetImage);
    s.bind(1, repository_id).bind(2, digest.str());
    if (!s.step()) return fail(ErrorCode::kManifestUnknown, "no manifest " + digest.str() + " in " + repository);
    return image_row(s);
  });
}

}  // namespace berth::store

namespace berth::store {

Result<std::optional<std::string>> SqliteMetaStore::get_setting(const std::string& key) {
  return read("get_setting", [&](Connection& c) -> Result<std::optional<std::string>> {
    Stmt s(c, sqlite_detail::kGetSetting);
    s.bind(1, key);
    if (!s.step()) return std::optional<std::string>();
    return std::optional<std::string>(s.text(0));
  });
}

Result<void> SqliteMetaStore::delete_setting(const std::string& key) {
  return write("delete_setting", [&](Connection& c) -> Result<void> {
    Stmt(c, sqlite_detail::kDeleteSetting).bind(1, key).exec();
    if (c.db().getChanges() == 0) return fail(ErrorCode::kNotFound, "no setting " + key);
    return {};
  });
}

Result<std::vector<std::pair<std::string, std::string>>> SqliteMetaStore::list_settings(const std::string& prefix,
                                                                                       const std::string& after,
                                                                                       size_t limit) {
  using Rows = std::vector<std::pair<std::string, std::string>>;
  return read("list_settings", [&](Connection& c) -> Result<Rows> {
    Stmt s(c, sqlite_detail::kListSettings);
    s.bind(1, prefix).bind(2, after).bind(3, sqlite_detail::sql_limit(limit));
    Rows out;
    while (s.step()) out.emplace_back(s.text(0), s.text(1));
    return out;
  });
}

// With the wal-index mapped, the answer is its header's fingerprint (top bit clear), so
// it moves with every commit of any connection or process, at the cost of two 48-byte
// copies. While the header cannot be read consistently (a writer that died halfway
// through storing it, until SQLite recovers it), each answer is a fresh number with the
// top bit set: never equal to another, so nothing cached is trusted meanwhile.
//
// Without the mapping: PRAGMA data_version is per connection: it changes when another
// connection (a writer of this process or another process) committed since this
// connection's last look, and its values mean nothing across connections. Pooled readers
// never write, so each sees every commit; whichever reader notices one first moves the
// store-wide generation, and a reader that saw it already answers the generation that
// followed. Any two requests with the same answer therefore read the same committed state
// (a commit seen by several readers moves the generation more than once, which only costs
// a cache refill).
Result<uint64_t> SqliteMetaStore::data_version() {
  constexpr uint64_t kTopBit = uint64_t{1} << 63;
  if (wal_watch_) {
    if (auto fingerprint = wal_watch_->fingerprint()) return *fingerprint & ~kTopBit;
    return kTopBit | generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  return read("data_version", [&](Connection& c) -> Result<uint64_t> {
    Stmt s(c, "PRAGMA data_version");
    if (!s.step()) return fail(ErrorCode::kInternal, "PRAGMA data_version returned nothing");
    const int64_t v = s.int64(0);
    if (c.seen_data_version != v) {
      c.seen_data_version = v;
      return generation_.fetch_add(1, std::memory_order_acq_rel) + 1;
    }
    return generation_.load(std::memory_order_acquire);
  });
}

Result<void> SqliteMetaStore::put_setting(const std::string& key, const std::string& value) {
  return write("put_setting", [&](Connection& c) -> Result<void> {
    Stmt(c, sqlite_detail::kPutSetting).bind(1, key).bind(2, value).exec();
    return {};
  });
}

Result<std::optional<std::string>> SqliteMetaStore::get_layer_inventory(const Digest& layer, int parser_version) {
  return read("get_layer_inventory", [&](Connection& c) -> Result<std::optional<std::string>> {
    Stmt s(c, sqlite_detail::kGetLayerInventory);
    s.bind(1, layer.str());
    s.bind(2, static_cast<int64_t>(parser_version));
    if (!s.step()) return std::optional<std::string>();
    return std::optional<std::string>(s.text(0));
  });
}

Result<void> SqliteMetaStore::put_layer_inventory(const Digest& layer, int parser_version,
                                                  const std::string& inventory) {
  return write("put_layer_inventory", [&](Connection& c) -> Result<void> {
    Stmt(c, sqlite_detail::kPutLayerInventory)
        .bind(1, layer.str())
        .bind(2, static_cast<int64_t>(parser_version))
        .bind(3, inventory)
        .exec();
    return {};
  });
}

namespace {

ImageScan image_scan_row(const sqlite_detail::Stmt& s, bool with_findings) {
  // Columns: 0 digest, 1 status, 2 description, 3 started_at, 4 completed_at,
  // 5 vulndb_version, 6 severity_counts_json, 7 last_manual_scan_at, 8 findings_json,
  // 9 last_complete_findings_json.
  ImageScan scan{
      .digest = s.digest(0),
      .status = s.text(1),
      .description = s.text(2),
      .started_at_ms = s.int64(3),
      .completed_at_ms = s.is_null(4) ? std::nullopt : std::optional<int64_t>(s.int64(4)),
      .vulndb_version = s.text(5),
      .severity_counts_json = s.text(6),
      .findings_json = with_findings ? s.text(8) : std::string("[]"),
      .last_complete_findings_json = with_findings ? s.text(9) : std::string("[]"),
      .last_manual_scan_ms = s.is_null(7) ? std::nullopt : std::optional<int64_t>(s.int64(7)),
  };
  return scan;
}

Result<void> require_manifest(sqlite_detail::Connection& c, int64_t repository_id, const std::string& repository,
                              const Digest& digest) {
  sqlite_detail::Stmt s(c, sqlite_detail::kManifestExists);
  s.bind(1, repository_id).bind(2, digest.str());
  if (!s.step()) return sqlite_detail::manifest_unknown(repository, digest.str());
  return {};
}

}  // namespace

Result<void> SqliteMetaStore::put_image_scan(const std::string& repository, const ImageScan& scan) {
  return write("put_image_scan", [&](Connection& c) -> Result<void> {
    BERTH_TRY(const int64_t repository_id, sqlite_detail::require_repository(c, repository));
    BERTH_TRY_VOID(require_manifest(c, repository_id, repository, scan.digest));
    Stmt s(c, sqlite_detail::kPutImageScan);
    s.bind(1, repository_id)
        .bind(2, scan.digest.str())
        .bind(3, scan.status)
        .bind(4, scan.description)
        .bind(5, scan.started_at_ms);
    if (scan.completed_at_ms) {
      s.bind(6, *scan.completed_at_ms);
    } else {
      s.bind_null(6);
    }
    s.bind(7, scan.vulndb_version).bind(8, scan.severity_counts_json).bind(9, scan.findings_json)
        .bind(10, scan.last_complete_findings_json)
        .exec();
    return {};
  });
}

Result<std::optional<ImageScan>> SqliteMetaStore::get_image_scan(const std::string& repository,
                                                                 const Digest& digest) {
  return read("get_image_scan", [&](Connection& c) -> Result<std::optional<ImageScan>> {
    Transaction snapshot(c, sqlite_detail::kBegin);
    BERTH_TRY(const int64_t repository_id, sqlite_detail::require_repository(c, repository));
    Stmt s(c, sqlite_detail::kGetImageScan);
    s.bind(1, repository_id).bind(2, digest.str());
    if (!s.step()) return std::optional<ImageScan>();
    return std::optional<ImageScan>(image_scan_row(s, true));
  });
}

Result<std::vector<ImageScan>> SqliteMetaStore::list_image_scans(const std::string& repository,
                                                                 const std::string& after, size_t limit) {
  return read("list_image_scans", [&](Connection& c) -> Result<std::vector<ImageScan>> {
    Transaction snapshot(c, sqlite_detail::kBegin);
    BERTH_TRY(const int64_t repository_id, sqlite_detail::require_repository(c, repository));
    Stmt s(c, sqlite_detail::kListImageScans);
    s.bind(1, repository_id).bind(2, after).bind(3, sqlite_detail::sql_limit(limit));
    std::vector<ImageScan> out;
    while (s.step()) out.push_back(image_scan_row(s, false));
    return out;
  });
}

Result<bool> SqliteMetaStore::claim_manual_scan(const std::string& repository, const Digest& digest, int64_t now_ms,
                                                int64_t not_before_ms) {
  return write("claim_manual_scan", [&](Connection& c) -> Result<bool> {
    BERTH_TRY(const int64_t repository_id, sqlite_detail::require_repository(c, repository));
    BERTH_TRY_VOID(require_manifest(c, repository_id, repository, digest));
    {
      Stmt last(c, sqlite_detail::kLastManualScan);
      last.bind(1, repository_id).bind(2, digest.str());
      if (last.step()) {
        // A scan that never ran or ended FAILED (a full queue, a bad layer) does not use
        // the quota up: a claim whose scan failed since does not count.
        const bool failed_since_claim = !last.is_null(0) && last.text(1) == "FAILED" && !last.is_null(3) &&
                                        last.int64(3) >= last.int64(0);
        if (!last.is_null(0) && last.int64(0) >= not_before_ms && !failed_since_claim) return false;
        // As ECR, the quota counts a scan on push too.
        if (last.text(1) == "COMPLETE" && last.int64(2) >= not_before_ms) return false;
      }
    }
    Stmt(c, sqlite_detail::kClaimManualScan).bind(1, repository_id).bind(2, digest.str()).bind(3, now_ms).exec();
    return true;
  });
}

Result<bool> SqliteMetaStore::update_repository_settings(const std::string& name, const std::string& expected,
                                                         const std::string& desired) {
  return write("update_repository_settings", [&](Connection& c) -> Result<bool> {
    if (Stmt(c, sqlite_detail::kUpdateRepositorySettings).bind(1, name).bind(2, expected).bind(3, desired).exec() > 0) {
      return true;
    }
    BERTH_TRY_VOID(sqlite_detail::require_repository(c, name));
    return false;
  });
}

}  // namespace berth::store

// ---- garbage collection (docs/gc.md) ----

namespace berth::store {
namespace {

std::vector<BlobLink> stale_links(sqlite_detail::Connection& c, int64_t linked_before_ms, size_t limit,
                                  std::vector<int64_t>* repository_ids) {
  std::vector<BlobLink> out;
  Stmt s(c, sqlite_detail::kStaleLinks);
  s.bind(1, linked_before_ms).bind(2, sqlite_detail::sql_limit(limit));
  while (s.step()) {
    if (repository_ids) repository_ids->push_back(s.int64(0));
    out.push_back(BlobLink{.repository = s.text(1), .digest = s.digest(2), .size = s.size(3)});
  }
  return out;
}

}  // namespace

Result<std::vector<BlobLink>> SqliteMetaStore::stale_blob_links(int64_t linked_before_ms, size_t limit) {
  return read("stale_blob_links", [&](Connection& c) -> Result<std::vector<BlobLink>> {
    return stale_links(c, linked_before_ms, limit, nullptr);
  });
}

Result<std::vector<BlobLink>> SqliteMetaStore::drop_stale_blob_links(int64_t linked_before_ms, size_t limit) {
  return write("drop_stale_blob_links", [&](Connection& c) -> Result<std::vector<BlobLink>> {
    // Selected and deleted under the write lock: a manifest commit either ran before
    // (its reference keeps the link out of the selection) or runs after and finds the
    // link gone (MANIFEST_BLOB_UNKNOWN).
    std::vector<int64_t> ids;
    auto links = stale_links(c, linked_before_ms, limit, &ids);
    for (size_t i = 0; i < links.size(); ++i) {
      Stmt(c, sqlite_detail::kDropLink).bind(1, ids[i]).bind(2, links[i].digest).exec();
    }
    return links;
  });
}

Result<std::vector<BlobRow>> SqliteMetaStore::unreferenced_blobs(int64_t links_before_ms, const std::string& after,
                                                                 size_t limit) {
  return read("unreferenced_blobs", [&](Connection& c) -> Result<std::vector<BlobRow>> {
    std::vector<BlobRow> out;
    Stmt s(c, sqlite_detail::kUnreferencedBlobs);
    s.bind(1, links_before_ms).bind(2, after).bind(3, sqlite_detail::sql_limit(limit));
    while (s.step()) out.push_back(BlobRow{.digest = s.digest(0), .size = s.size(1)});
    return out;
  });
}

Result<std::vector<Digest>> SqliteMetaStore::unrecorded_blobs(const std::vector<Digest>& digests) {
  return read("unrecorded_blobs", [&](Connection& c) -> Result<std::vector<Digest>> {
    sqlite_detail::Transaction snapshot(c, sqlite_detail::kBegin);
    std::vector<Digest> out;
    for (const Digest& d : digests) {
      Stmt s(c, sqlite_detail::kBlobRecorded);
      s.bind(1, d);
      if (s.step() && s.int64(0) == 0) out.push_back(d);
    }
    return out;
  });
}

Result<std::vector<Digest>> SqliteMetaStore::begin_blob_deletions(const std::vector<Digest>& digests,
                                                                  int64_t now_ms) {
  return write("begin_blob_deletions", [&](Connection& c) -> Result<std::vector<Digest>> {
    std::vector<Digest> marked;
    for (const Digest& d : digests) {
      {
        Stmt s(c, sqlite_detail::kBlobInUse);
        s.bind(1, d);
        if (s.step() && s.int64(0) != 0) continue;  // referenced again since it was selected
      }
      Stmt(c, sqlite_detail::kDeleteBlobRow).bind(1, d).exec();
      Stmt(c, sqlite_detail::kInsertDeletion).bind(1, d).bind(2, now_ms).exec();
      marked.push_back(d);
    }
    return marked;
  });
}

Result<void> SqliteMetaStore::end_blob_deletions(const std::vector<Digest>& digests) {
  return write("end_blob_deletions", [&](Connection& c) -> Result<void> {
    for (const Digest& d : digests) Stmt(c, sqlite_detail::kDeleteDeletion).bind(1, d).exec();
    return {};
  });
}

Result<std::vector<Digest>> SqliteMetaStore::pending_blob_deletions() {
  return read("pending_blob_deletions", [&](Connection& c) -> Result<std::vector<Digest>> {
    std::vector<Digest> out;
    Stmt s(c, sqlite_detail::kListDeletions);
    while (s.step()) out.push_back(s.digest(0));
    return out;
  });
}

Result<bool> SqliteMetaStore::begin_blob_commit(const std::string& upload_id, const Digest& digest, int64_t now_ms) {
  return write("begin_blob_commit", [&](Connection& c) -> Result<bool> {
    if (Stmt(c, sqlite_detail::kDeletionPending).bind(1, digest).step()) return false;
    if (Stmt(c, sqlite_detail::kSetCommitting).bind(1, upload_id).bind(2, digest).bind(3, now_ms).exec() == 0) {
      return sqlite_detail::upload_unknown();
    }
    return true;
  });
}

Result<uint64_t> SqliteMetaStore::mount_blob(const std::string& repository, const Digest& digest, int64_t now_ms) {
  return write("mount_blob", [&](Connection& c) -> Result<uint64_t> {
    BERTH_TRY(const int64_t repository_id, sqlite_detail::require_repository(c, repository));
    Stmt s(c, sqlite_detail::kBlobSize);
    s.bind(1, digest);
    if (!s.step()) return fail(ErrorCode::kBlobUnknown, "blob " + digest.str() + " is not stored");
    const uint64_t size = s.size(0);
    Stmt(c, sqlite_detail::kLinkBlob).bind(1, repository_id).bind(2, digest).bind(3, now_ms).exec();
    return size;
  });
}

Result<StorageUsage> SqliteMetaStore::storage_usage() {
  return read("storage_usage", [&](Connection& c) -> Result<StorageUsage> {
    sqlite_detail::Transaction snapshot(c, sqlite_detail::kBegin);  // totals and rows from one state
    StorageUsage usage;
    {
      Stmt s(c, sqlite_detail::kBlobTotals);
      if (s.step()) {
        usage.blobs = s.size(0);
        usage.blob_bytes = s.size(1);
      }
    }
    {
      Stmt s(c, sqlite_detail::kManifestTotals);
      if (s.step()) {
        usage.manifests = s.size(0);
        usage.manifest_bytes = s.size(1);
      }
    }
    Stmt s(c, sqlite_detail::kRepositoryUsage);
    while (s.step()) {
      usage.repositories.push_back(RepositoryUsage{.repository = s.text(0),
                                                   .manifests = s.size(1),
                                                   .manifest_bytes = s.size(2),
                                                   .blobs = s.size(3),
                                                   .blob_bytes = s.size(4)});
    }
    return usage;
  });
}

// ---- vulnerability database ----

Result<uint64_t> SqliteMetaStore::vulndb_version() {
  return read("vulndb_version", [&](Connection& c) -> Result<uint64_t> {
    Stmt s(c, sqlite_detail::kVulndbVersion);
    if (!s.step()) return fail(ErrorCode::kInternal, "the vulnerability data version row is missing");
    return static_cast<uint64_t>(s.int64(0));
  });
}

Result<AdvisoryUpsertOutcome> SqliteMetaStore::upsert_advisories(const std::vector<AdvisoryRecord>& batch) {
  {
    std::set<std::pair<std::string_view, std::string_view>> keys;
    for (const auto& r : batch) {
      if (!keys.emplace(r.source, r.id).second) {
        return fail(ErrorCode::kInvalidParameter, "advisory '" + r.id + "' twice in one batch of " + r.source);
      }
    }
  }
  return write("upsert_advisories", [&](Connection& c) -> Result<AdvisoryUpsertOutcome> {
    AdvisoryUpsertOutcome out;
    for (const auto& r : batch) {
      Stmt get(c, sqlite_detail::kAdvisoryHash);
      get.bind(1, r.source).bind(2, r.id);
      const bool exists = get.step();
      if (exists && get.text(0) == r.content_hash) {
        ++out.unchanged;
        continue;
      }
      ++(exists ? out.changed : out.added);
      Stmt(c, sqlite_detail::kUpsertAdvisory)
          .bind(1, r.source)
          .bind(2, r.id)
          .bind(3, r.ecosystem)
          .bind(4, r.content_hash)
          .bind(5, r.document)
          .exec();
    }
    if (out.added + out.changed > 0) Stmt(c, sqlite_detail::kBumpVulndbVersion).exec();
    return out;
  });
}

Result<uint64_t> SqliteMetaStore::prune_advisories(const std::string& source, const std::vector<std::string>& keep_ids) {
  const std::set<std::string_view> keep(keep_ids.begin(), keep_ids.end());
  return write("prune_advisories", [&](Connection& c) -> Result<uint64_t> {
    std::vector<std::string> gone;
    {
      Stmt s(c, sqlite_detail::kAdvisoryIdsOfSource);
      s.bind(1, source);
      while (s.step()) {
        std::string id = s.text(0);
        if (!keep.contains(id)) gone.push_back(std::move(id));
      }
    }
    for (const auto& id : gone) Stmt(c, sqlite_detail::kDeleteAdvisory).bind(1, source).bind(2, id).exec();
    if (!gone.empty()) Stmt(c, sqlite_detail::kBumpVulndbVersion).exec();
    return static_cast<uint64_t>(gone.size());
  });
}

Result<std::vector<AdvisoryRecord>> SqliteMetaStore::list_advisories(const std::string& after_source,
                                                                     const std::string& after_id, size_t limit) {
  return read("list_advisories", [&](Connection& c) -> Result<std::vector<AdvisoryRecord>> {
    std::vector<AdvisoryRecord> out;
    Stmt s(c, sqlite_detail::kListAdvisories);
    s.bind(1, after_source).bind(2, after_id).bind(3, sqlite_detail::sql_limit(limit));
    while (s.step()) {
      out.push_back(AdvisoryRecord{.source = s.text(0),
                                   .id = s.text(1),
                                   .ecosystem = s.text(2),
                                   .content_hash = s.text(3),
                                   .document = s.text(4)});
    }
    return out;
  });
}

Result<std::vector<AdvisoryCount>> SqliteMetaStore::advisory_counts() {
  return read("advisory_counts", [&](Connection& c) -> Result<std::vector<AdvisoryCount>> {
    std::vector<AdvisoryCount> out;
    Stmt s(c, sqlite_detail::kAdvisoryCounts);
    while (s.step()) {
      out.push_back(
          AdvisoryCount{.source = s.text(0), .ecosystem = s.text(1), .advisories = static_cast<uint64_t>(s.int64(2))});
    }
    return out;
  });
}

Result<VulnImportRecord> SqliteMetaStore::record_vulndb_import(const VulnImportRecord& record) {
  return write("record_vulndb_import", [&](Connection& c) -> Result<VulnImportRecord> {
    using sqlite_detail::to_sql;
    Stmt s(c, sqlite_detail::kInsertVulndbImport);
    s.bind(1, record.started_at_ms)
        .bind(2, record.finished_at_ms)
        .bind(3, record.path)
        .bind(4, to_sql(record.files_read, "files_read"))
        .bind(5, to_sql(record.files_skipped, "files_skipped"))
        .bind(6, to_sql(record.added, "added"))
        .bind(7, to_sql(record.changed, "changed"))
        .bind(8, to_sql(record.unchanged, "unchanged"))
        .bind(9, to_sql(record.removed, "removed"))
        .bind(10, to_sql(record.version, "version"))
        .bind(11, record.details_json);
    if (!s.step()) return fail(ErrorCode::kInternal, "recording the import returned no id");
    VulnImportRecord out = record;
    out.id = s.int64(0);
    return out;
  });
}

Result<std::vector<VulnImportRecord>> SqliteMetaStore::vulndb_imports(size_t limit) {
  return read("vulndb_imports", [&](Connection& c) -> Result<std::vector<VulnImportRecord>> {
    std::vector<VulnImportRecord> out;
    Stmt s(c, sqlite_detail::kListVulndbImports);
    s.bind(1, sqlite_detail::sql_limit(limit));
    auto u = [&](int column) { return static_cast<uint64_t>(s.int64(column)); };
    while (s.step()) {
      out.push_back(VulnImportRecord{.id = s.int64(0),
                                     .started_at_ms = s.int64(1),
                                     .finished_at_ms = s.int64(2),
                                     .path = s.text(3),
                                     .files_read = u(4),
                                     .files_skipped = u(5),
                                     .added = u(6),
                                     .changed = u(7),
                                     .unchanged = u(8),
                                     .removed = u(9),
                                     .version = u(10),
                                     .details_json = s.text(11)});
    }
    return out;
  });
}

}  // namespace berth::store
