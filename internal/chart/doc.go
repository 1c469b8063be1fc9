// Package chart reads Helm charts for the air gap: the chart archive (a .tgz or a directory,
// packaged the same way every time), its values with the operator's values files applied in
// order as `helm -f` applies them, the image blocks those values name ({registry, repository,
// tag, digest, ...} under an `image` key, as the matrix-stack chart has them), the values file
// that points every block at the local registry, and the container images a rendering by the
// `helm` binary runs.
//
// It knows nothing of registries or bundles: a chart travels as the OCI artifact Helm makes of
// it (ConfigMediaType, ...): internal/create carries it (mirror.PullChart pulls it) and
// internal/push pushes it.
package chart
