// Package sshsig makes and checks detached signatures in OpenSSH's SSHSIG format (openssh
// PROTOCOL.sshsig), the format of `ssh-keygen -Y sign` and `ssh-keygen -Y verify`, with ed25519
// keys, on top of golang.org/x/crypto/ssh. It knows nothing of bundles: it signs a message
// under a namespace, and says which key signed one.
package sshsig
