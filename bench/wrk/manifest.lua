-- GET /v2/<name>/manifests/<tag> the way registry clients ask for it.
-- Authorization (berth only) is added on the wrk command line with -H.
wrk.method = "GET"
wrk.headers["Accept"] = table.concat({
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
}, ", ")
