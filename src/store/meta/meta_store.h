// Rows: repositories, manifests, tags, which blobs each repository may use, and upload
// sessions. Knows nothing of bytes on disk or of HTTP. Every method is one transaction,
// so no reader ever sees half of a push.
//
// Implementations: SqliteMetaStore (sqlite/), later PostgresMetaStore. Blocking,
// thread-safe, never throws. Times are milliseconds since the Unix epoch, passed in by
// the caller (the registry owns the clock).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/digest.h"
#include "core/result.h"

namespace berth::store {

struct Repository {
  int64_t id = 0;
  std::string name;
  int64_t created_at_ms = 0;
  std::string settings_json = "{}";  // ECR settings (tag mutability, scanning, encryption), owned by the registry
};

// An access key of a principal. The secret is sealed by the caller (AES-256-GCM, bound
// to the key id): the store never sees it in the clear.
struct AccessKeyRecord {
  std::string id;             // AKIA...
  std::string account_id;     // 12 digits
  std::string principal_arn;  // arn:aws:iam::ACCOUNT:root, :user/NAME, :role/NAME
  std::string sealed_secret;
  int64_t created_at_ms = 0;
};

// An IAM user or role of an account: arn:aws:iam::ACCOUNT:user/NAME or :role/NAME.
struct PrincipalRecord {
  std::string arn;
  std::string account_id;
  std::string kind;  // "user" or "role"
  std::string name;
  int64_t created_at_ms = 0;
};

// An inline identity policy of a user or role. The document was validated by the caller
// (iam::parse_policy); the store keeps the text as given.
struct PrincipalPolicyRecord {
  std::string name;
  std::string document;
};

struct ManifestRecord {
  Digest digest;
  std::string media_type;
  std::string artifact_type;          // empty when none
  std::optional<Digest> subject;
  std::string content;                // the bytes as pushed (at most 4 MiB)
  int64_t pushed_at_ms = 0;
  std::optional<int64_t> last_pulled_at_ms;
};

struct NewManifest {
  Digest digest;
  std::string media_type;
  std::string artifact_type;
  std::optional<Digest> subject;
  std::string content;
  std::string annotations_json = "{}";  // top-level annotations, for the referrers API
  std::vector<Digest> blobs;            // config + layers: must be linked to the repository
  std::vector<Digest> children;         // index entries: must be manifests in the repository
  std::optional<std::string> tag;
  // The tag may be created but not moved to another manifest (kTagImmutable), checked
  // in the same transaction so two racing pushes cannot both move it.
  bool tag_immutable = false;
};

struct PutManifestOutcome {
  bool created = false;                 // false when the manifest already existed
  std::optional<Digest> previous_tag_target;  // the digest the tag pointed at before, if moved
};

// An image as ECR lists it: a manifest with its tags and the bytes it references.
struct ImageRecord {
  Digest digest;
  std::vector<std::string> tags;  // lexical order
  std::string media_type;
  std::string artifact_type;
  uint64_t size_bytes = 0;        // config + layers (each blob once)
  int64_t pushed_at_ms = 0;
  std::optional<int64_t> last_pulled_at_ms;
  std::optional<Digest> subject;  // the manifest this artifact refers to
  std::vector<Digest> children;   // manifests an index lists, in digest order
};

struct Referrer {
  Digest digest;
  std::string media_type;
  std::string artifact_type;
  int64_t size = 0;
  std::string annotations_json = "{}";
};

// Garbage collection (docs/gc.md): a repository's link to a blob, and a blob row.
struct BlobLink {
  std::string repository;
  Digest digest;
  uint64_t size = 0;
};

struct BlobRow {
  Digest digest;
  uint64_t size = 0;
};

// Storage accounting. A repository's bytes count each blob it links or references once,
// however many of its images share it; the registry's count each stored blob once.
struct RepositoryUsage {
  std::string repository;
  uint64_t manifests = 0;
  uint64_t manifest_bytes = 0;
  uint64_t blobs = 0;
  uint64_t blob_bytes = 0;
};

struct StorageUsage {
  uint64_t blobs = 0;
  uint64_t blob_bytes = 0;
  uint64_t manifests = 0;
  uint64_t manifest_bytes = 0;
  std::vector<RepositoryUsage> repositories;  // by name
};

struct UploadRecord {
  std::string id;
  std::string repository;
  uint64_t offset = 0;          // bytes durably staged and hashed
  std::string hash_state;       // crypto::Sha256::save_state() at `offset`
  int64_t started_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// ---- Vulnerability database (src/vulndb) ----

// One advisory as imported: keyed by (source, id). `source` names where it came from
// ("osv:/abs/path", "debian:/abs/path", ...): a later full import of the same source
// replaces its set of advisories. `document` is the normalised advisory as JSON (owned
// by src/vulndb, opaque here) and `content_hash` its hash, so an unchanged advisory is
// recognised without comparing documents. `ecosystem` names the ecosystem families it
// affects ("PyPI", "Debian", "Alpine", comma-separated when several), for counting.
struct AdvisoryRecord {
  std::string source;
  std::string id;
  std::string ecosystem;
  std::string content_hash;
  std::string document;
};

struct AdvisoryUpsertOutcome {
  uint64_t added = 0;
  uint64_t changed = 0;
  uint64_t unchanged = 0;
};

struct AdvisoryCount {
  std::string source;
  std::string ecosystem;
  uint64_t advisories = 0;
};

// One finished `vulndb import`, for history and status.
struct VulnImportRecord {
  int64_t id = 0;  // assigned by the store
  int64_t started_at_ms = 0;
  int64_t finished_at_ms = 0;
  std::string path;  // what was imported, as given (made absolute)
  uint64_t files_read = 0;
  uint64_t files_skipped = 0;  // malformed files
  uint64_t added = 0;
  uint64_t changed = 0;
  uint64_t unchanged = 0;
  uint64_t removed = 0;
  uint64_t version = 0;  // the vulnerability data version after the import
  std::string details_json = "{}";  // skipped files with reasons, per-source counts
};

// The newest scan of an image (ECR's imageScanStatus and imageScanFindings), per
// (repository, image digest). It goes with the image: deleting the manifest deletes it.
struct ImageScan {
  Digest digest;
  std::string status;        // ECR ScanStatus: IN_PROGRESS, COMPLETE, FAILED, UNSUPPORTED_IMAGE, PENDING, ...
  std::string description;   // why it failed, or was not run
  int64_t started_at_ms = 0;
  std::optional<int64_t> completed_at_ms;
  std::string vulndb_version;  // the advisory data the findings were matched against
  std::string severity_counts_json = "{}";  // {"HIGH": 2, ...}
  std::string findings_json = "[]";         // opaque to the store (src/scanning owns the shape)
  // While this scan is not COMPLETE: the findings of the image's latest COMPLETE scan, so
  // a scan that failed does not make old findings look new when the next one completes.
  // Opaque to the store like findings_json; like it, left out of listings.
  std::string last_complete_findings_json = "[]";
  // Read-only here: set by claim_manual_scan (StartImageScan's once-a-day quota).
  std::optional<int64_t> last_manual_scan_ms;
};

// The setting under which the registry policy (ECR PutRegistryPolicy) is kept.
inline constexpr char kRegistryPolicySetting[] = "registry_policy";
// Pull-time update exclusions (ECR RegisterPullTimeUpdateExclusion): one setting per
// principal ARN under this prefix; the value is the registration time in ms.
inline constexpr char kPullTimeExclusionPrefix[] = "pull_time_exclusion/";

class MetaStore {
 public:
  virtual ~MetaStore() = default;

  // Repositories. kRepositoryExists, kNameUnknown.
  [[nodiscard]] virtual Result<Repository> create_repository(const std::string& name, int64_t now_ms,
                                                             const std::string& settings_json = "{}") = 0;
  [[nodiscard]] virtual Result<Repository> get_repository(const std::string& name) = 0;
  // Names in lexical (byte) order strictly after `after`, at most `limit`.
  [[nodiscard]] virtual Result<std::vector<std::string>> list_repositories(const std::string& after,
                                                                           size_t limit) = 0;
  // Compare-and-set: replaces the settings with `desired` only while they still read
  // `expected` (true), else changes nothing (false), so that two writers editing
  // different settings of one repository never lose either's edit. kNameUnknown.
  [[nodiscard]] virtual Result<bool> update_repository_settings(const std::string& name, const std::string& expected,
                                                                const std::string& desired) = 0;
  // kRepositoryNotEmpty unless force or the repository holds no manifests.
  [[nodiscard]] virtual Result<void> delete_repository(const std::string& name, bool force) = 0;

  // Blob links. A blob is recorded once (digest, size) and linked to each repository
  // that pushed or mounted it. kNameUnknown when the repository does not exist;
  // kUnavailable while a deletion of the digest is pending.
  [[nodiscard]] virtual Result<void> link_blob(const std::string& repository, const Digest& digest, uint64_t size,
                                               int64_t now_ms) = 0;
  // kBlobUnknown unless the blob is linked to the repository.
  [[nodiscard]] virtual Result<uint64_t> linked_blob_size(const std::string& repository, const Digest& digest) = 0;
  // Size of a blob linked to any repository (for mounts without `from`); kBlobUnknown.
  [[nodiscard]] virtual Result<uint64_t> any_blob_size(const Digest& digest) = 0;
  [[nodiscard]] virtual Result<void> unlink_blob(const std::string& repository, const Digest& digest) = 0;

  // Manifests. In one transaction: checks that every `blobs` entry is linked
  // (kManifestBlobUnknown naming the first missing digest) and every `children` entry is
  // a manifest of the repository (kManifestBlobUnknown), stores the manifest if new,
  // and points the tag at it.
  [[nodiscard]] virtual Result<PutManifestOutcome> put_manifest(const std::string& repository,
                                                                const NewManifest& manifest, int64_t now_ms) = 0;
  [[nodiscard]] virtual Result<ManifestRecord> get_manifest(const std::string& repository,
                                                            const Digest& digest) = 0;  // kManifestUnknown
  [[nodiscard]] virtual Result<ManifestRecord> get_tagged_manifest(const std::string& repository,
                                                                   const std::string& tag) = 0;  // kManifestUnknown
  // Tags in lexical order strictly after `after`, at most `limit`.
  [[nodiscard]] virtual Result<std::vector<std::string>> list_tags(const std::string& repository,
                                                                   const std::string& after, size_t limit) = 0;
  // Deletes the manifest and every tag pointing at it. kManifestUnknown;
  // kManifestReferenced while an index of the repository lists it.
  [[nodiscard]] virtual Result<void> delete_manifest(const std::string& repository, const Digest& digest) = 0;
  [[nodiscard]] virtual Result<void> delete_tag(const std::string& repository, const std::string& tag) = 0;
  // Manifests of the repository whose subject is `subject`, optionally only those with
  // the given artifact type, ordered by digest.
  [[nodiscard]] virtual Result<std::vector<Referrer>> referrers(const std::string& repository, const Digest& subject,
                                                                const std::optional<std::string>& artifact_type) = 0;
  // Images of the repository in digest order strictly after `after` ("" for the
  // start), at most `limit`. kNameUnknown.
  [[nodiscard]] virtual Result<std::vector<ImageRecord>> list_images(const std::string& repository,
                                                                     const std::string& after, size_t limit) = 0;
  // One image by digest: kNameUnknown, or kManifestUnknown when the repository lacks it.
  [[nodiscard]] virtual Result<ImageRecord> get_image(const std::string& repository, const Digest& digest) = 0;
  [[nodiscard]] virtual Result<void> record_pull(const std::string& repository, const Digest& digest,
                                                 int64_t now_ms) = 0;

  // Upload sessions. kBlobUploadUnknown when absent. create_upload and advance_upload
  // need not be durable when they return (a store may commit them without waiting for
  // the disk): losing them in a power cut makes the client start that upload again,
  // and nothing else depends on them. complete's blob and link rows are durable.
  [[nodiscard]] virtual Result<void> create_upload(const UploadRecord& upload) = 0;
  [[nodiscard]] virtual Result<UploadRecord> get_upload(const std::string& id) = 0;
  // Compare-and-set: succeeds only while the stored offset is still `expected_offset`
  // (else kRangeInvalid), so two writers to one upload cannot both advance it.
  [[nodiscard]] virtual Result<void> advance_upload(const std::string& id, uint64_t expected_offset,
                                                    uint64_t new_offset, const std::string& hash_state,
                                                    int64_t now_ms) = 0;
  [[nodiscard]] virtual Result<void> delete_upload(const std::string& id) = 0;
  [[nodiscard]] virtual Result<std::vector<UploadRecord>> uploads_idle_since(int64_t before_ms) = 0;

  // ---- Garbage collection (docs/gc.md has the protocol and its race analysis) ----
  // A blob's bytes may be deleted only while a pending deletion is recorded for it, and
  // a pending deletion is recorded only in a transaction that finds the blob with no
  // repository link, no manifest reference and no upload committing it. Implementations
  // must serialize begin_blob_deletions with put_manifest, link_blob, mount_blob,
  // begin_blob_commit and drop_stale_blob_links (one writer in SQLite; row locks on the
  // blob's rows in PostgreSQL).

  // Links to `digest` that no manifest of their repository references, linked before
  // `linked_before_ms` (pushes that never finished), in (repository, digest) order.
  [[nodiscard]] virtual Result<std::vector<BlobLink>> stale_blob_links(int64_t linked_before_ms, size_t limit) = 0;
  // Deletes up to `limit` of those, re-checked in the deleting transaction; returns them.
  [[nodiscard]] virtual Result<std::vector<BlobLink>> drop_stale_blob_links(int64_t linked_before_ms,
                                                                            size_t limit) = 0;
  // Blob rows no manifest references, no upload is committing, and no repository links
  // except by links older than `links_before_ms` (pass 0 to count every link), in digest
  // order strictly after `after`.
  [[nodiscard]] virtual Result<std::vector<BlobRow>> unreferenced_blobs(int64_t links_before_ms,
                                                                        const std::string& after, size_t limit) = 0;
  // The subset of `digests` with no blob row and no pending deletion: bytes the metadata
  // does not know (a crash between storing the bytes and recording them).
  [[nodiscard]] virtual Result<std::vector<Digest>> unrecorded_blobs(const std::vector<Digest>& digests) = 0;
  // In one transaction: for each digest still unreferenced (no link, no manifest
  // reference, no upload committing it), deletes its row, if any, and records a pending
  // deletion. Returns the digests so marked; only their bytes may be deleted.
  [[nodiscard]] virtual Result<std::vector<Digest>> begin_blob_deletions(const std::vector<Digest>& digests,
                                                                         int64_t now_ms) = 0;
  // Forgets pending deletions once their bytes are gone.
  [[nodiscard]] virtual Result<void> end_blob_deletions(const std::vector<Digest>& digests) = 0;
  // Pending deletions a collector left behind (it crashed before end_blob_deletions).
  [[nodiscard]] virtual Result<std::vector<Digest>> pending_blob_deletions() = 0;
  // An upload is about to store its bytes as `digest`: records that on the upload, so no
  // collector deletes those bytes until the upload row is gone. Answers false while a
  // deletion of `digest` is pending (the caller waits for it and asks again).
  // kBlobUploadUnknown when the upload is gone.
  [[nodiscard]] virtual Result<bool> begin_blob_commit(const std::string& upload_id, const Digest& digest,
                                                       int64_t now_ms) = 0;
  // Links a blob that is already recorded (a cross-repository mount) and returns its
  // size: kBlobUnknown when no row exists (never recorded, or collected meanwhile), so a
  // link never points at bytes a collector is deleting. kNameUnknown.
  [[nodiscard]] virtual Result<uint64_t> mount_blob(const std::string& repository, const Digest& digest,
                                                    int64_t now_ms) = 0;
  [[nodiscard]] virtual Result<StorageUsage> storage_usage() = 0;

  // Access keys. kNotFound when absent; kInvalidParameter for a duplicate id.
  [[nodiscard]] virtual Result<void> create_access_key(const AccessKeyRecord& key) = 0;
  [[nodiscard]] virtual Result<AccessKeyRecord> get_access_key(const std::string& id) = 0;
  [[nodiscard]] virtual Result<void> delete_access_key(const std::string& id) = 0;
  [[nodiscard]] virtual Result<std::vector<AccessKeyRecord>> list_access_keys(const std::string& principal_arn) = 0;
  // Access keys whose id starts with `id_prefix` (not empty), in id order strictly after
  // `after`, at most `limit`: all keys of one kind (ASIA: role sessions) page by page.
  [[nodiscard]] virtual Result<std::vector<AccessKeyRecord>> list_access_keys_by_id(const std::string& id_prefix,
                                                                                    const std::string& after,
                                                                                    size_t limit) = 0;

  // Accounts (12-digit ids). kInvalidParameter when it exists.
  [[nodiscard]] virtual Result<void> create_account(const std::string& account_id, int64_t now_ms) = 0;
  [[nodiscard]] virtual Result<std::vector<std::string>> list_accounts() = 0;

  // IAM users and roles. kInvalidParameter when the ARN exists; kNotFound when absent.
  [[nodiscard]] virtual Result<void> create_principal(const PrincipalRecord& principal) = 0;
  [[nodiscard]] virtual Result<PrincipalRecord> get_principal(const std::string& arn) = 0;
  // Principals of one account, ordered by ARN.
  [[nodiscard]] virtual Result<std::vector<PrincipalRecord>> list_principals(const std::string& account_id) = 0;
  // Deletes the principal with its access keys and inline policies, in one transaction.
  [[nodiscard]] virtual Result<void> delete_principal(const std::string& arn) = 0;
  // Creates or replaces the named inline policy. kNotFound when the principal is absent.
  [[nodiscard]] virtual Result<void> put_principal_policy(const std::string& arn, const std::string& name,
                                                          const std::string& document) = 0;
  // Ordered by name; empty for a principal without policies (or an absent one).
  [[nodiscard]] virtual Result<std::vector<PrincipalPolicyRecord>> list_principal_policies(const std::string& arn) = 0;

  // The repository policy text (validated by the caller). kNameUnknown for an absent
  // repository; get answers nullopt when the repository has no policy.
  [[nodiscard]] virtual Result<void> set_repository_policy(const std::string& repository, const std::string& text) = 0;
  [[nodiscard]] virtual Result<std::optional<std::string>> get_repository_policy(const std::string& repository) = 0;
  [[nodiscard]] virtual Result<void> delete_repository_policy(const std::string& repository) = 0;

  // Registry-wide settings (the account id, ...): the first value written wins, so two
  // processes starting at once agree. Returns the stored value.
  [[nodiscard]] virtual Result<std::string> setting_or_init(const std::string& key, const std::string& initial) = 0;
  [[nodiscard]] virtual Result<std::optional<std::string>> get_setting(const std::string& key) = 0;
  [[nodiscard]] virtual Result<void> put_setting(const std::string& key, const std::string& value) = 0;
  // kNotFound when there was no such setting.
  [[nodiscard]] virtual Result<void> delete_setting(const std::string& key) = 0;
  // Settings whose key starts with `prefix`, in key order strictly after `after`, at most
  // `limit`: keyed families such as "pull_time_exclusion/ARN".
  [[nodiscard]] virtual Result<std::vector<std::pair<std::string, std::string>>> list_settings(
      const std::string& prefix, const std::string& after, size_t limit) = 0;

  // A value that differs from an earlier answer whenever a write committed since then
  // (by this store, another instance, or another process on the same data) may have
  // changed anything. Equal answers mean nothing changed in between. Cheap enough to
  // call on every request: caches of access keys and policies check it.
  [[nodiscard]] virtual Result<uint64_t> data_version() = 0;

  // A layer's package inventory (opaque JSON from src/scan), stored once per layer digest
  // and shared by every image that uses the layer. get answers nullopt when there is none
  // or it was made by another parser version, so a parser upgrade recomputes it.
  [[nodiscard]] virtual Result<std::optional<std::string>> get_layer_inventory(const Digest& layer,
                                                                               int parser_version) = 0;
  [[nodiscard]] virtual Result<void> put_layer_inventory(const Digest& layer, int parser_version,
                                                         const std::string& inventory) = 0;

  // ---- Vulnerability database ----
  // The vulnerability data version: 0 until an import changed something, then moved (up)
  // by every transaction that added, changed or removed an advisory, and by nothing else,
  // so re-importing identical data leaves it where it was.
  [[nodiscard]] virtual Result<uint64_t> vulndb_version() = 0;
  // In one transaction: inserts or replaces each record (keys must be distinct within the
  // batch, else kInvalidParameter and nothing is written), counting those added, changed
  // (another content_hash) and unchanged (same hash: the row is not rewritten).
  [[nodiscard]] virtual Result<AdvisoryUpsertOutcome> upsert_advisories(const std::vector<AdvisoryRecord>& batch) = 0;
  // In one transaction: deletes the advisories of `source` whose id is not in `keep_ids`
  // (what a complete re-import of the source no longer has). Returns how many went.
  [[nodiscard]] virtual Result<uint64_t> prune_advisories(const std::string& source,
                                                          const std::vector<std::string>& keep_ids) = 0;
  // Advisories in (source, id) byte order strictly after (after_source, after_id)
  // ("", "" for the start), at most `limit`: the whole database is read page by page.
  [[nodiscard]] virtual Result<std::vector<AdvisoryRecord>> list_advisories(const std::string& after_source,
                                                                            const std::string& after_id,
                                                                            size_t limit) = 0;
  // Advisories per (source, ecosystem), in that order.
  [[nodiscard]] virtual Result<std::vector<AdvisoryCount>> advisory_counts() = 0;
  // Appends an import to the history; returns it with its id.
  [[nodiscard]] virtual Result<VulnImportRecord> record_vulndb_import(const VulnImportRecord& record) = 0;
  // The newest `limit` imports, newest first.
  [[nodiscard]] virtual Result<std::vector<VulnImportRecord>> vulndb_imports(size_t limit) = 0;
  // Image scans. put creates or replaces the image's scan (keeping its
  // last_manual_scan_ms); kNameUnknown, kManifestUnknown when the image is gone.
  [[nodiscard]] virtual Result<void> put_image_scan(const std::string& repository, const ImageScan& scan) = 0;
  // nullopt when the image was never scanned (or does not exist); kNameUnknown.
  [[nodiscard]] virtual Result<std::optional<ImageScan>> get_image_scan(const std::string& repository,
                                                                        const Digest& digest) = 0;
  // Scans of the repository's images in digest order strictly after `after`, at most
  // `limit`; findings_json is left empty ("[]") so a listing stays small. kNameUnknown.
  [[nodiscard]] virtual Result<std::vector<ImageScan>> list_image_scans(const std::string& repository,
                                                                        const std::string& after, size_t limit) = 0;
  // A manual scan (StartImageScan) is allowed when the image had none, and no COMPLETE
  // scan (on push, or by `berth scan`) started, at or after `not_before_ms`: then records
  // `now_ms` as its last one and answers true, in one transaction, so two racing requests
  // cannot both pass. A manual scan that did not run or failed (the image's scan ended
  // FAILED at or after the claim) does not count. An image without a scan row gets one,
  // IN_PROGRESS from now_ms. kNameUnknown, kManifestUnknown.
  [[nodiscard]] virtual Result<bool> claim_manual_scan(const std::string& repository, const Digest& digest,
                                                       int64_t now_ms, int64_t not_before_ms) = 0;
};

}  // namespace berth::store
