// Package shape holds no code. Its test checks the shape of the code base that issue 20 set:
// no product file over 400 lines, no function over 80, and no product code outside
// internal/oci importing go-containerregistry's remote or transport.
package shape
