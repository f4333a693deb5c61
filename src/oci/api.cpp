#include "oci/api.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <new>

#include <nlohmann/json.hpp>

#include "core/buffer_pool.h"
#include "core/names.h"
#include "crypto/seal.h"
#include "http/offload.h"
#include "http/range.h"
#include "oci/errors.h"
#include "registry/manifest.h"

namespace berth::oci {
namespace {

using http::Response;
using nlohmann::json;

constexpr size_t kDefaultPageSize = 1000;
constexpr size_t kMaxPageSize = 10000;
// kUploadBuffers of these per upload request bound its memory (smaller for a smaller
// body). Filled before each store hand-over: 1 MiB pushed 25% faster in `make bench`
// than whatever one read returned, 2 MiB another 5% (fewer hand-overs, and direct writes
// the disk splits into two requests in flight); three let the receiver run ahead of a
// slow hash or write.
constexpr size_t kUploadBufferBytes = 2 * 1024 * 1024;
constexpr size_t kUploadBuffers = 3;
constexpr size_t kHashPiece = 256 * 1024;
// Buffers kept for reuse once their upload is done: four uploads' worth (24 MiB), so
// pushes of a few layers at once reuse warm pages rather than map and zero new ones.
constexpr size_t kKeptUploadBuffers = 4 * kUploadBuffers;
constexpr uint64_t kSmallManifestBytes = 64 * 1024;
constexpr size_t kPage = 4096;

// One buffer of an upload request, page-aligned so a store can hand it to the disk as it
// is (O_DIRECT): a pooled full-size one, or for a small body a heap block of its size (a
// config blob should not map a 2 MiB page).
class UploadBuffer {
 public:
  UploadBuffer() = default;
  explicit UploadBuffer(BufferPool::Buffer b) : pooled_(std::move(b)), data_(pooled_.data()), size_(pooled_.size()) {}
  explicit UploadBuffer(size_t size)
      : small_(static_cast<char*>(::operator new(size, kAlign))), data_(small_.get()), size_(size) {}
  explicit operator bool() const { return data_ != nullptr; }
  char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  static constexpr std::align_val_t kAlign{kPage};
  struct AlignedDelete {
    void operator()(char* p) const { ::operator delete(p, kAlign); }
  };
  BufferPool::Buffer pooled_;
  std::unique_ptr<char, AlignedDelete> small_;
  char* data_ = nullptr;
  size_t size_ = 0;
};

// Adapts a store reader to the HTTP layer's body source (http knows nothing of stores).
class BlobBody final : public http::BodySource {
 public:
  explicit BlobBody(std::unique_ptr<store::BlobReader> r) : r_(std::move(r)) {}
  Result<size_t> read(uint64_t offset, std::span<char> out) override { return r_->read(offset, out); }
  int native_handle() const override { return r_->native_handle(); }

 private:
  std::unique_ptr<store::BlobReader> r_;
};

Response empty(unsigned status) {
  Response r;
  r.status = status;
  return r;
}

std::string upload_location(const std::string& name, const std::string& id) {
  return "/v2/" + name + "/blobs/uploads/" + id;
}

// OCI's upload Range header: inclusive end, "0-0" when nothing has arrived yet.
std::string upload_range(uint64_t offset) { return "0-" + std::to_string(offset == 0 ? 0 : offset - 1); }

Response upload_accepted(unsigned status, const std::string& name, const store::UploadRecord& u) {
  Response r = empty(status);
  r.header("Location", upload_location(name, u.id));
  r.header("Range", upload_range(u.offset));
  r.header("Docker-Upload-UUID", u.id);
  return r;
}

Response blob_created(const std::string& name, const Digest& digest) {
  Response r = empty(201);
  r.header("Location", "/v2/" + name + "/blobs/" + digest.str());
  r.header("Docker-Content-Digest", digest.str());
  return r;
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// `Content-Range: <start>-<end>` (inclusive), as OCI chunked uploads send it; a
// "bytes " prefix and "/total" suffix are tolerated.
Result<std::pair<uint64_t, uint64_t>> parse_content_range(std::string_view v) {
  if (v.substr(0, 6) == "bytes ") v.remove_prefix(6);
  if (v.substr(0, 6) == "bytes=") v.remove_prefix(6);
  if (auto slash = v.find('/'); slash != std::string_view::npos) v = v.substr(0, slash);
  const auto dash = v.find('-');
  if (dash == std::string_view::npos) return fail(ErrorCode::kRangeInvalid, "Content-Range must be <start>-<end>");
  auto a = parse_u64(v.substr(0, dash));
  auto b = parse_u64(v.substr(dash + 1));
  if (!a || !b || *b < *a) return fail(ErrorCode::kRangeInvalid, "Content-Range must be <start>-<end> with start <= end");
  return std::pair{*a, *b};
}

// Page size from `n`: absent means the default; not a number means 400.
Result<size_t> page_size(const http::Request& req) {
  auto n = req.query_param("n");
  if (!n) return kDefaultPageSize;
  auto v = parse_u64(*n);
  if (!v) return fail(ErrorCode::kInvalidParameter, "n must be a non-negative integer");
  return static_cast<size_t>(std::min<uint64_t>(*v, kMaxPageSize));
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/' || c == ':') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// Lists one page (fetching one extra item to know whether there is a next page).
Response paged_list(const std::string& path, const std::string& key, std::vector<std::string> items, size_t n,
                    json extra) {
  const bool more = items.size() > n;
  if (more) items.resize(n);
  Response r = empty(200);
  extra[key] = items;
  r.body = extra.dump();
  r.header("Content-Type", "application/json");
  if (more && !items.empty()) {
    r.header("Link", "<" + path + "?n=" + std::to_string(n) + "&last=" + url_encode(items.back()) + ">; rel=\"next\"");
  }
  return r;
}

std::string_view allowed_methods(Endpoint e) {
  switch (e) {
    case Endpoint::kBase:
    case Endpoint::kCatalog:
    case Endpoint::kTags:
    case Endpoint::kReferrers: return "GET, HEAD";
    case Endpoint::kBlob: return "GET, HEAD, DELETE";
    case Endpoint::kUploadStart: return "POST";
    case Endpoint::kUpload: return "GET, PATCH, PUT, DELETE";
    case Endpoint::kManifest: return "GET, HEAD, PUT, DELETE";
    case Endpoint::kNone: break;
  }
  return "";
}

bool accepts(const http::Request& req, std::string_view media_type) {
  bool any_accept = false;
  for (const auto& [k, v] : req.headers) {
    if (k != "accept") continue;
    any_accept = true;
    std::string_view list = v;
    while (!list.empty()) {
      const auto comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
      item = item.substr(0, item.find(';'));
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (item == media_type || item == "*/*" || item == "application/*") return true;
    }
  }
  return !any_accept;
}

Response unauthorized(std::string_view message) {
  Response r = error_response(401, "UNAUTHORIZED", message);
  r.header("WWW-Authenticate", "Basic realm=\"berth\"");
  return r;
}

// The ECR action a /v2/ request needs (as ECR's own registry maps them); empty when the
// method is not one the endpoint answers (the handler then says 405).
std::string action_for(Endpoint e, const std::string& m) {
  const bool get = m == "GET" || m == "HEAD";
  switch (e) {
    case Endpoint::kCatalog: return get ? "ecr:DescribeRepositories" : "";
    case Endpoint::kTags:
    case Endpoint::kReferrers: return get ? "ecr:ListImages" : "";
    case Endpoint::kBlob:
      if (m == "GET") return "ecr:GetDownloadUrlForLayer";
      if (m == "HEAD") return "ecr:BatchCheckLayerAvailability";
      return m == "DELETE" ? "ecr:BatchDeleteImage" : "";
    case Endpoint::kUploadStart: return m == "POST" ? "ecr:InitiateLayerUpload" : "";
    case Endpoint::kUpload:
      if (m == "PUT") return "ecr:CompleteLayerUpload";
      return m == "PATCH" || m == "GET" || m == "DELETE" ? "ecr:UploadLayerPart" : "";
    case Endpoint::kManifest:
      if (get) return "ecr:BatchGetImage";
      if (m == "PUT") return "ecr:PutImage";
      return m == "DELETE" ? "ecr:BatchDeleteImage" : "";
    case Endpoint::kBase:
    case Endpoint::kNone: break;
  }
  return "";
}

}  // namespace

// A URL from GetDownloadUrlForLayer: SigV4 in the query, bound to the method and path,
// time-limited; the request is then authorized as the key's principal like any other.
Result<std::optional<auth::Caller>> Api::presigned_caller(const http::Request& req) const {
  auto verified = auth::verify(
      auth::signed_request(req.method, req.path, req.target, req.headers), [this](std::string_view id) { return access_->identity.secret(id); },
      access_->clock.now_ms(), "ecr");
  if (!verified) return fail(ErrorCode::kUnauthorized, "presigned URL refused: " + verified.error().message);
  auto caller = access_->identity.caller(verified->access_key_id);
  if (!caller) return fail(ErrorCode::kUnauthorized, "presigned URL's access key no longer exists");
  return std::optional<auth::Caller>(std::move(*caller));
}

Result<std::optional<auth::Caller>> Api::authenticate(const http::Request& req) const {
  auto header = req.header("authorization");
  if (!header && req.has_query_param("X-Amz-Signature")) return presigned_caller(req);
  if (!header) return std::optional<auth::Caller>();
  auto invalid = [] {
    return fail(ErrorCode::kUnauthorized, "authentication required: log in with user AWS and the password from "
                                          "GetAuthorizationToken (aws ecr get-login-password)");
  };
  std::string_view value = *header;
  constexpr std::string_view kBasic = "basic ";
  if (value.size() <= kBasic.size()) return invalid();
  for (size_t i = 0; i < kBasic.size(); ++i) {
    if (static_cast<char>(std::tolower(static_cast<unsigned char>(value[i]))) != kBasic[i]) return invalid();
  }
  value.remove_prefix(kBasic.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  auto decoded = crypto::unbase64(value);
  if (!decoded) return invalid();
  // containers/image (skopeo, podman) answers a Basic challenge with empty credentials
  // when it has none: that is an anonymous request (public repositories), not a bad login.
  if (*decoded == ":" || decoded->empty()) return std::optional<auth::Caller>();
  const auto colon = decoded->find(':');
  if (colon == std::string::npos || decoded->substr(0, colon) != "AWS") return invalid();
  auto caller = access_->identity.verify_token(std::string_view(*decoded).substr(colon + 1));
  if (!caller) return tl::unexpected(caller.error());
  return std::optional<auth::Caller>(std::move(*caller));
}

std::optional<Response> Api::check(const http::Request& req, const std::optional<auth::Caller>& caller,
                                   const std::string& action, const std::string& repository,
                                   std::optional<uint64_t> version) const {
  auto allowed = access_->authorizer.authorize(auth::AccessRequest{.caller = caller ? &*caller : nullptr,
                                                                   .action = action,
                                                                   .repository = repository,
                                                                   .resource = {},
                                                                   .source_ip = req.remote_address,
                                                                   .data_version = version});
  if (allowed) return std::nullopt;
  if (allowed.error().code != ErrorCode::kDenied) return error_response(allowed.error());
  // An anonymous caller is asked to log in (docker and podman only send credentials
  // after a 401); a known one is refused.
  if (!caller) return unauthorized(allowed.error().message);
  return error_response(403, "DENIED", allowed.error().message);
}

Api::Api(Services services, http::asio::thread_pool& pool, const Access* access)
    : s_(services), pool_(pool), access_(access), upload_buffers_(kUploadBufferBytes, kKeptUploadBuffers) {
  upload_buffers_.reserve(kUploadBuffers);  // one upload's worth, faulted in before the first push
}

http::awaitable<Response> Api::handle(http::Exchange& ex) {
  const Route route = match_route(ex.request().path);
  std::optional<auth::Caller> caller;
  Response r = co_await dispatch(ex, route, caller);
  audit(ex.request(), route, caller, r);
  r.header("Docker-Distribution-API-Version", "registry/2.0");
  co_return r;
}

// Calls that change state (any method but GET and HEAD) and refused calls (401, 403),
// as the ECR action they were authorized as. The anonymous GET /v2/ that every client
// sends first to learn how to log in is the protocol's handshake, not a refusal.
void Api::audit(const http::Request& req, const Route& route, const std::optional<auth::Caller>& caller,
                const Response& r) const {
  if (!access_ || !access_->audit) return;
  const bool refused = r.status == 401 || r.status == 403;
  const bool mutating = req.method != "GET" && req.method != "HEAD";
  if (!refused && !mutating) return;
  if (route.endpoint == Endpoint::kBase && !req.header("authorization")) return;
  observe::AuditRecord a;
  a.source = "registry";
  a.action = action_for(route.endpoint, req.method);
  if (a.action.empty()) a.action = route.endpoint == Endpoint::kBase ? "ecr:GetAuthorizationToken" : req.method + " " + req.path;
  if (caller) {
    a.principal = caller->principal_arn;
    a.access_key_id = caller->access_key_id;
  }
  a.source_ip = req.remote_address;
  a.user_agent = std::string(req.header("user-agent").value_or(""));
  a.resource = route.name.empty() ? "*" : access_->authorizer.repository_arn(route.name);
  if (r.status >= 400) {
    a.outcome = refused ? observe::Outcome::kDenied : observe::Outcome::kFailed;
    const json body = json::parse(r.body, nullptr, false);
    if (body.is_object() && body.contains("errors") && body["errors"].is_array() && !body["errors"].empty()) {
      a.error_code = body["errors"][0].value("code", "");
      a.message = body["errors"][0].value("message", "");
    }
  }
  json detail = {{"method", req.method}, {"status", r.status}};
  if (!route.reference.empty()) detail["reference"] = route.reference;
  if (const auto* digest = r.find_header("Docker-Content-Digest")) detail["digest"] = *digest;
  a.detail = std::move(detail);
  access_->audit->record(a);
}

http::awaitable<Response> Api::dispatch(http::Exchange& ex, const Route& route, std::optional<auth::Caller>& caller) {
  const auto& req = ex.request();
  const std::string& m = req.method;
  const bool get = m == "GET" || m == "HEAD";
  auto not_allowed = [&] {
    Response r = error_response(405, "UNSUPPORTED", "method " + m + " is not allowed here");
    r.header("Allow", std::string(allowed_methods(route.endpoint)));
    return r;
  };

  if (route.endpoint == Endpoint::kNone) {
    co_return error_response(404, "UNSUPPORTED", "no such endpoint: " + req.path);
  }
  // Access control, for every route in this one place: who is calling, then whether the
  // route's ECR action is allowed on the repository.
  if (access_) {
    auto who = authenticate(req);
    if (!who) co_return unauthorized(who.error().message);
    caller = std::move(*who);
  }
  if (route.endpoint == Endpoint::kBase) {
    // Any authenticated caller; the 401 is what makes docker and podman log in.
    if (access_ && !caller) {
      co_return unauthorized("authentication required: log in with user AWS and the password from "
                             "GetAuthorizationToken (aws ecr get-login-password)");
    }
    if (!get) co_return not_allowed();
    Response r = empty(200);
    r.body = "{}";
    r.header("Content-Type", "application/json");
    co_return r;
  }
  if (route.endpoint == Endpoint::kCatalog) {
    if (!get) co_return not_allowed();
    if (!access_) co_return catalog(req, nullptr);
    if (!caller) {  // anonymous: asked to log in, as for /v2/
      co_return unauthorized("authentication required: log in with user AWS and the password from "
                             "GetAuthorizationToken (aws ecr get-login-password)");
    }
    // Allowed on every repository: the whole list. Otherwise the repositories the caller
    // may describe or pull, as distribution filters its catalog by pull scope.
    if (!check(req, caller, "ecr:DescribeRepositories", "")) co_return catalog(req, nullptr);
    auto allowed = [&](const std::string& action, const std::string& name) {
      return access_->authorizer
          .authorize(auth::AccessRequest{.caller = &*caller, .action = action, .repository = name, .resource = {},
                                         .source_ip = req.remote_address})
          .has_value();
    };
    co_return catalog(req, [&](const std::string& name) {
      return allowed("ecr:DescribeRepositories", name) || allowed("ecr:BatchGetImage", name);
    });
  }
  if (auto valid = validate_repository_name(route.name); !valid) co_return error_response(valid.error());
  bool may_mount = true;
  // One MetaStore version for every decision this request makes (authorization, the pull
  // gate): a logged-in caller was read at one, an anonymous request reads it here.
  std::optional<uint64_t> version;
  if (access_) {
    version = caller ? caller->data_version : access_->authorizer.reads_version();
    const std::string action = action_for(route.endpoint, m);
    if (!action.empty()) {
      if (auto refused = check(req, caller, action, route.name, version)) co_return std::move(*refused);
    }
    if (route.endpoint == Endpoint::kUploadStart && req.has_query_param("mount")) {
      // Mounting reads the source: it needs the pull permission there. Without `from`
      // the source is any repository, so the caller must be allowed to read them all.
      const auto from = req.query_param("from");
      if (from && validate_repository_name(std::string(*from))) {
        may_mount = !check(req, caller, "ecr:GetDownloadUrlForLayer", std::string(*from), version);
      } else {
        may_mount = access_->authorizer
                        .authorize(auth::AccessRequest{.caller = caller ? &*caller : nullptr,
                                                       .action = "ecr:GetDownloadUrlForLayer",
                                                       .repository = {},
                                                       .resource = {},
                                                       .source_ip = req.remote_address,
                                                       .data_version = version})
                        .has_value();
      }
    }
  }
  if (ex.too_large()) {  // refused before anything is created or staged
    co_return error_response(Error{ErrorCode::kPayloadTooLarge, "request body exceeds the server's body size limit"});
  }

  switch (route.endpoint) {
    case Endpoint::kTags:
      co_return get ? tags(req, route.name) : not_allowed();
    case Endpoint::kBlob:
      if (get) co_return get_blob(req, route.name, route.reference);
      if (m == "DELETE") co_return co_await delete_blob(route.name, route.reference);
      co_return not_allowed();
    case Endpoint::kUploadStart:
      if (m == "POST") co_return co_await start_upload(ex, route.name, may_mount);
      co_return not_allowed();
    case Endpoint::kUpload:
      if (m == "GET") co_return upload_status(route.name, route.reference);
      if (m == "PATCH") co_return co_await patch_upload(ex, route.name, route.reference);
      if (m == "PUT") co_return co_await put_upload(ex, route.name, route.reference);
      if (m == "DELETE") co_return co_await delete_upload(route.name, route.reference);
      co_return not_allowed();
    case Endpoint::kManifest:
      if (get) {
        co_return get_manifest(req, route.name, route.reference,
                               registry::Puller{.arn = caller ? std::string_view(caller->policies_of()) : std::string_view(),
                                                .data_version = version});
      }
      if (m == "PUT") co_return co_await put_manifest(ex, route.name, route.reference);
      if (m == "DELETE") co_return co_await delete_manifest(route.name, route.reference);
      co_return not_allowed();
    case Endpoint::kReferrers:
      co_return get ? referrers(req, route.name, route.reference) : not_allowed();
    case Endpoint::kNone:
    case Endpoint::kBase:
    case Endpoint::kCatalog:
      break;
  }
  co_return error_response(404, "UNSUPPORTED", "no such endpoint");
}

Response Api::catalog(const http::Request& req, const std::function<bool(const std::string&)>& visible) {
  auto n = page_size(req);
  if (!n) return error_response(400, "PAGINATION_NUMBER_INVALID", n.error().message);
  const std::string last(req.query_param("last").value_or(""));
  if (!visible) {
    auto names = s_.repositories.list(last, *n + 1);
    if (!names) return error_response(names.error());
    return paged_list("/v2/_catalog", "repositories", std::move(*names), *n, json::object());
  }
  // Only what the caller may see, scanning a bounded number of names per request; when
  // the bound is hit first, the Link continues the scan where it stopped.
  constexpr size_t kBatch = 1000;
  constexpr size_t kMaxScanned = 20 * kBatch;
  std::vector<std::string> shown;
  std::string cursor = last;
  size_t scanned = 0;
  bool exhausted = false;
  while (shown.size() <= *n && !exhausted && scanned < kMaxScanned) {
    auto names = s_.repositories.list(cursor, kBatch);
    if (!names) return error_response(names.error());
    exhausted = names->size() < kBatch;
    for (const auto& name : *names) {
      ++scanned;
      cursor = name;
      if (visible(name)) shown.push_back(name);
      if (shown.size() > *n) break;
    }
  }
  if (shown.size() > *n || exhausted) {
    return paged_list("/v2/_catalog", "repositories", std::move(shown), *n, json::object());
  }
  Response r = paged_list("/v2/_catalog", "repositories", std::move(shown), *n, json::object());
  r.header("Link", "</v2/_catalog?n=" + std::to_string(*n) + "&last=" + url_encode(cursor) + ">; rel=\"next\"");
  return r;
}

Response Api::tags(const http::Request& req, const std::string& name) {
  auto n = page_size(req);
  if (!n) return error_response(400, "PAGINATION_NUMBER_INVALID", n.error().message);
  const std::string last(req.query_param("last").value_or(""));
  auto tags = s_.manifests.tags(name, last, *n + 1);
  if (!tags) return error_response(tags.error());
  return paged_list("/v2/" + name + "/tags/list", "tags", std::move(*tags), *n, json{{"name", name}});
}

Response Api::get_blob(const http::Request& req, const std::string& name, const std::string& digest_text) {
  auto digest = Digest::parse(digest_text);
  if (!digest) return error_response(digest.error());
  auto info = s_.blobs.stat(name, *digest);
  if (!info) {
    if (info.error().code == ErrorCode::kBlobUnknown) {
      if (auto repo = s_.repositories.require(name); !repo) return error_response(repo.error());
    }
    return error_response(info.error());
  }
  Response r = empty(200);
  r.header("Content-Type", "application/octet-stream");
  r.header("Docker-Content-Digest", digest->str());
  r.header("ETag", "\"" + digest->str() + "\"");
  r.header("Accept-Ranges", "bytes");
  r.header("Cache-Control", "max-age=31536000");
  http::ByteRange range{0, info->size};
  const auto parsed = http::parse_range(req.header("range"), info->size, range);
  if (parsed == http::RangeParse::kUnsatisfiable) {
    Response e = error_response(416, "BLOB_UNKNOWN", "requested range is outside the blob's " +
                                                         std::to_string(info->size) + " bytes");
    e.header("Content-Range", "bytes */" + std::to_string(info->size));
    return e;
  }
  if (parsed == http::RangeParse::kSatisfiable) {
    r.status = 206;
    r.header("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                  std::to_string(range.first + range.length - 1) + "/" + std::to_string(info->size));
  } else {
    range = {0, info->size};
  }
  if (req.method == "HEAD") {
    r.omit_body = true;
    r.head_length = range.length;
    return r;
  }
  auto reader = s_.blobs.open(name, *digest);
  if (!reader) return error_response(reader.error());
  r.source = std::make_shared<BlobBody>(std::move(*reader));
  r.source_offset = range.first;
  r.source_length = range.length;
  return r;
}

http::awaitable<Response> Api::delete_blob(const std::string& name, const std::string& digest_text) {
  auto digest = Digest::parse(digest_text);
  if (!digest) co_return error_response(digest.error());
  auto done = co_await http::offload(pool_, [&]() -> Result<void> {
    BERTH_TRY_VOID(s_.repositories.require(name));
    return s_.blobs.unlink(name, *digest);
  });
  if (!done) co_return error_response(done.error());
  co_return empty(202);
}

// A pipeline over a few buffers: the I/O thread receives into one while the pool hashes
// (every kHashPiece as it arrives) and stores (whole buffers) what came before, each
// stage in byte order on its own strand, so the network, SHA-256 and the disk all work
// at once.
http::awaitable<Result<store::UploadRecord>> Api::receive(http::Exchange& ex, const std::string& name,
                                                         const std::string& id, std::optional<uint64_t> start,
                                                         http::Exchange::Permit slot) {
  auto append = co_await http::offload(pool_, [&] { return s_.uploads.append(name, id, start); });
  if (!append) co_return tl::unexpected(append.error());
  auto executor = co_await http::asio::this_coro::executor;

  // Each buffer is busy while its hash and store tasks run; `done` is cancelled (on this
  // executor) whenever one of those ends, waking the receiver if it waits on a buffer.
  struct Pipeline {
    explicit Pipeline(const http::asio::any_io_executor& e) : done(e) {}
    http::asio::steady_timer done;
    std::array<int, kUploadBuffers> busy{};
    Result<void> result;
  } pipe(executor);
  auto wait_until = [&](auto idle) -> http::awaitable<Result<void>> {
    while (!idle()) {
      pipe.done.expires_at(std::chrono::steady_clock::time_point::max());
      boost::system::error_code ec;
      co_await pipe.done.async_wait(http::with_ec(ec));
    }
    co_return pipe.result;
  };
  auto hasher = http::asio::make_strand(pool_);
  auto storer = http::asio::make_strand(pool_);

  // A small body (a config, a manifest-sized layer) gets buffers of its own size, in
  // whole pages, rather than three full ones.
  const auto body = static_cast<size_t>(
      std::min<uint64_t>(ex.request().content_length.value_or(kUploadBufferBytes), kUploadBufferBytes));
  const size_t buffer_bytes = std::max(kPage, (body + kPage - 1) / kPage * kPage);
  // Taken when first needed: a body that fits one buffer never takes the others.
  std::array<UploadBuffer, kUploadBuffers> bufs;
  std::optional<Error> failure;
  for (size_t next = 0;; next = (next + 1) % kUploadBuffers) {
    if (auto earlier = co_await wait_until([&] { return pipe.busy[next] == 0; }); !earlier) {
      failure = earlier.error();
      break;
    }
    auto& buf = bufs[next];
    if (!buf) {
      if (ex.body_done()) break;
      // Out of memory here must end the loop, not unwind the frame: earlier buffers' hash
      // and store tasks still run on the pool and use this frame until they are done.
      try {
        buf = buffer_bytes == upload_buffers_.buffer_bytes() ? UploadBuffer(upload_buffers_.take())
                                                             : UploadBuffer(buffer_bytes);
      } catch (const std::bad_alloc&) {
        failure = Error{ErrorCode::kInternal, "out of memory for upload buffers; retry from the reported offset"};
        break;
      }
    }
    auto task_done = [&, next](Result<void> r) {
      http::asio::post(executor, [&, next, r = std::move(r)]() mutable {
        if (!r && pipe.result) pipe.result = std::move(r);
        --pipe.busy[next];
        pipe.done.cancel();
      });
    };
    // The hash takes each piece as it arrives, so it starts soon after the request does
    // (a chunked push pays that start once per chunk) and never waits for a whole buffer.
    size_t hashed = 0;
    auto hash_to = [&](size_t end) {
      const std::string_view piece(buf.data() + hashed, end - hashed);
      ++pipe.busy[next];
      http::asio::post(hasher, [&, piece, task_done] {
        (*append)->hash(piece);
        task_done({});
      });
      hashed = end;
    };
    // The store takes whole buffers (the socket hands over a few dozen KiB per read):
    // large direct writes keep the disk busy with fewer requests.
    size_t n = 0;
    while (n < buf.size()) {
      auto got = co_await ex.read_some(std::span<char>(buf.data() + n, buf.size() - n));
      if (!got) {
        failure = got.error();
        break;
      }
      if (*got == 0) break;
      n += *got;
      if (n - hashed >= kHashPiece) hash_to(n);
    }
    if (n > hashed) hash_to(n);
    if (n == 0) break;
    const std::string_view data(buf.data(), n);
    ++pipe.busy[next];
    http::asio::post(storer, [&, data, task_done] { task_done((*append)->store(data)); });
    if (failure) break;  // the connection failed after these bytes: they are stored, then it ends
  }
  auto idle = [&] { return std::all_of(pipe.busy.begin(), pipe.busy.end(), [](int b) { return b == 0; }); };
  if (auto last = co_await wait_until(idle); !last && !failure) failure = last.error();
  // Record what did arrive, even after a failure: the client resumes from there.
  auto finished = co_await http::offload(pool_, [&] {
    auto r = (*append)->finish();
    append->reset();  // release the upload on the pool thread, with the writer's fd
    return r;
  });
  slot.release();
  if (failure) co_return tl::unexpected(*failure);
  co_return finished;
}

http::awaitable<Response> Api::start_upload(http::Exchange& ex, const std::string& name, bool may_mount) {
  const auto& req = ex.request();
  if (auto mount = req.query_param("mount"); mount && may_mount) {
    auto digest = Digest::parse(*mount);
    if (!digest) co_return error_response(digest.error());
    std::optional<std::string> from;
    if (auto f = req.query_param("from")) from = std::string(*f);
    auto mounted = co_await http::offload(pool_, [&]() -> Result<std::optional<store::BlobInfo>> {
      BERTH_TRY_VOID(s_.repositories.require_for_push(name));
      return s_.blobs.mount(name, *digest, from);
    });
    if (!mounted) co_return error_response(mounted.error());
    if (*mounted) co_return blob_created(name, *digest);
    // Not mountable: fall through to an ordinary upload session (202), as the spec says.
  }
  std::optional<Digest> digest;
  if (auto d = req.query_param("digest")) {
    auto parsed = Digest::parse(*d);
    if (!parsed) co_return error_response(parsed.error());
    digest = *parsed;
  }
  // Monolithic single-POST upload: its slot comes first, so a 429 leaves no session behind.
  http::Exchange::Permit slot;
  if (digest) {
    auto got = co_await ex.upload_slot();
    if (!got) co_return error_response(got.error());
    slot = std::move(*got);
  }
  auto upload = co_await http::offload(pool_, [&] { return s_.uploads.start(name); });
  if (!upload) co_return error_response(upload.error());
  if (!digest) {
    // A body on a plain POST has no meaning; it is drained or the connection closed.
    co_return upload_accepted(202, name, *upload);
  }
  auto received = co_await receive(ex, name, upload->id, std::nullopt, std::move(slot));
  if (!received) {
    co_await http::offload(pool_, [&] { return s_.uploads.cancel(name, upload->id); });
    co_return error_response(received.error());
  }
  auto done = co_await http::offload(pool_, [&] { return s_.uploads.complete(name, upload->id, *digest); });
  if (!done) co_return error_response(done.error());
  co_return blob_created(name, *digest);
}

Response Api::upload_status(const std::string& name, const std::string& id) {
  auto u = s_.uploads.status(name, id);
  if (!u) return error_response(u.error());
  return upload_accepted(204, name, *u);
}

http::awaitable<Response> Api::patch_upload(http::Exchange& ex, const std::string& name, const std::string& id) {
  const auto& req = ex.request();
  std::optional<uint64_t> start;
  if (auto cr = req.header("content-range")) {
    auto range = parse_content_range(*cr);
    if (range && req.content_length && *req.content_length != range->second - range->first + 1) {
      range = fail(ErrorCode::kRangeInvalid, "Content-Range covers " +
                                                 std::to_string(range->second - range->first + 1) +
                                                 " bytes but Content-Length is " + std::to_string(*req.content_length));
    }
    if (!range) {
      Response e = error_response(range.error());
      if (auto u = s_.uploads.status(name, id)) {
        e.header("Range", upload_range(u->offset));
        e.header("Location", upload_location(name, id));
      }
      co_return e;
    }
    start = range->first;
  }
  // Where the upload stands, so the client can resume from there.
  auto refused = [&](const Error& error) {
    Response e = error_response(error);
    if (auto u = s_.uploads.status(name, id)) {
      e.header("Range", upload_range(u->offset));
      e.header("Location", upload_location(name, id));
      e.header("Docker-Upload-UUID", id);
    }
    return e;
  };
  // An unknown upload or a chunk out of order is answered now, not after a wait for a slot.
  if (auto ready = s_.uploads.may_append(name, id, start); !ready) co_return refused(ready.error());
  // Without a slot nothing is touched: a 429 leaves the upload as it was.
  auto slot = co_await ex.upload_slot();
  if (!slot) co_return refused(slot.error());
  auto received = co_await receive(ex, name, id, start, std::move(*slot));
  if (!received) co_return refused(received.error());
  co_return upload_accepted(202, name, *received);
}

http::awaitable<Response> Api::put_upload(http::Exchange& ex, const std::string& name, const std::string& id) {
  const auto& req = ex.request();
  auto d = req.query_param("digest");
  if (!d) co_return error_response(400, "DIGEST_INVALID", "the digest query parameter is required to finish an upload");
  auto digest = Digest::parse(*d);
  if (!digest) co_return error_response(digest.error());
  const bool has_body = req.chunked || req.content_length.value_or(0) > 0;
  if (has_body) {
    std::optional<uint64_t> start;
    if (auto cr = req.header("content-range")) {
      auto range = parse_content_range(*cr);
      if (!range) co_return error_response(range.error());
      start = range->first;
    }
    if (auto ready = s_.uploads.may_append(name, id, start); !ready) co_return error_response(ready.error());
    auto slot = co_await ex.upload_slot();
    if (!slot) co_return error_response(slot.error());
    auto received = co_await receive(ex, name, id, start, std::move(*slot));
    if (!received) co_return error_response(received.error());
  }
  auto done = co_await http::offload(pool_, [&] { return s_.uploads.complete(name, id, *digest); });
  if (!done) co_return error_response(done.error());
  co_return blob_created(name, *digest);
}

http::awaitable<Response> Api::delete_upload(const std::string& name, const std::string& id) {
  auto done = co_await http::offload(pool_, [&] { return s_.uploads.cancel(name, id); });
  if (!done) co_return error_response(done.error());
  co_return empty(204);
}

Response Api::get_manifest(const http::Request& req, const std::string& name, const std::string& reference,
                           const registry::Puller& puller) {
  auto ref = registry::Reference::parse_lookup(reference);
  if (!ref) return error_response(ref.error());
  const bool head = req.method == "HEAD";
  auto m = s_.manifests.get(name, *ref, /*count_pull=*/!head, puller);
  if (!m) return error_response(m.error());
  // An index is only served to clients that can read one; others would misread it.
  if (registry::is_index_media_type(m->media_type) && !accepts(req, m->media_type)) {
    return error_response(404, "MANIFEST_UNKNOWN",
                          "manifest " + reference + " is a " + m->media_type +
                              ", which the request's Accept header does not allow");
  }
  Response r = empty(200);
  r.header("Content-Type", m->media_type);
  r.header("Docker-Content-Digest", m->digest.str());
  r.header("ETag", "\"" + m->digest.str() + "\"");
  if (head) {
    r.omit_body = true;
    r.head_length = m->content.size();
  } else {
    r.body = std::move(m->content);
  }
  return r;
}

http::awaitable<Response> Api::put_manifest(http::Exchange& ex, const std::string& name,
                                            const std::string& reference) {
  auto ref = registry::Reference::parse(reference);
  if (!ref) co_return error_response(ref.error());
  // A large manifest is held whole in memory (twice, while it is parsed): like an upload
  // body, it takes one of the server's upload slots.
  http::Exchange::Permit slot;
  if (ex.body_larger_than(kSmallManifestBytes)) {
    auto got = co_await ex.upload_slot();
    if (!got) co_return error_response(got.error());
    slot = std::move(*got);
  }
  auto body = co_await ex.read_all(registry::kMaxManifestBytes);
  if (!body) {
    if (body.error().code == ErrorCode::kPayloadTooLarge) {
      co_return error_response(Error{ErrorCode::kManifestTooLarge, "manifest is larger than the 4 MiB limit"});
    }
    co_return error_response(body.error());
  }
  const std::string content_type(ex.request().header("content-type").value_or(""));
  auto pushed = co_await http::offload(pool_, [&] { return s_.manifests.put(name, *ref, content_type, *body); });
  if (!pushed) co_return error_response(pushed.error());
  Response r = empty(201);
  r.header("Location", "/v2/" + name + "/manifests/" + pushed->digest.str());
  r.header("Docker-Content-Digest", pushed->digest.str());
  if (pushed->subject) r.header("OCI-Subject", pushed->subject->str());
  co_return r;
}

http::awaitable<Response> Api::delete_manifest(const std::string& name, const std::string& reference) {
  auto ref = registry::Reference::parse_lookup(reference);
  if (!ref) co_return error_response(ref.error());
  auto done = co_await http::offload(pool_, [&] { return s_.manifests.remove(name, *ref); });
  if (!done) co_return error_response(done.error());
  co_return empty(202);
}

Response Api::referrers(const http::Request& req, const std::string& name, const std::string& digest_text) {
  auto digest = Digest::parse(digest_text);
  if (!digest) return error_response(digest.error());
  std::optional<std::string> artifact_type;
  if (auto at = req.query_param("artifactType")) artifact_type = std::string(*at);
  auto list = s_.manifests.referrers(name, *digest, artifact_type);
  if (!list) return error_response(list.error());
  json manifests = json::array();
  for (const auto& ref : *list) {
    json d = {{"mediaType", ref.media_type}, {"digest", ref.digest.str()}, {"size", ref.size}};
    if (!ref.artifact_type.empty()) d["artifactType"] = ref.artifact_type;
    json ann = json::parse(ref.annotations_json, nullptr, false);
    if (ann.is_object() && !ann.empty()) d["annotations"] = ann;
    manifests.push_back(std::move(d));
  }
  Response r = empty(200);
  r.body = json{{"schemaVersion", 2}, {"mediaType", registry::media_types::kOciIndex}, {"manifests", manifests}}.dump();
  r.header("Content-Type", std::string(registry::media_types::kOciIndex));
  if (artifact_type) r.header("OCI-Filters-Applied", "artifactType");
  return r;
}

}  // namespace berth::oci
