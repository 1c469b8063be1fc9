// Package digests reads and writes the ESS image list (images_digests.yml) and renders what
// the cluster needs from it: the override ConfigMap and the docker-registry Secret.
//
// It knows nothing of registries or bundles: it deals in Image values only.
package digests
