// Package image builds the reactor-harness OCI image from a static Linux
// binary, with no base image and no registry: one layer holding the binary,
// a non-root user (/etc/passwd, /etc/group, its home), /tmp and, when
// given, the host's CA bundle. The image is reproducible: every file time
// and the image's creation time are one given instant, so the same binary
// gives the same digest.
//
// It writes the image as an OCI layout and as a tarball that `docker load`,
// `podman load`, `kind load image-archive` and `minikube image load` read.
// It knows nothing of the harness itself: only that the binary must be
// static (no ELF interpreter, no shared libraries), since the image has no
// libc.
package image
