// Command image builds the reactor-harness OCI image from a static binary
// (see internal/image) and writes it to a folder as an OCI layout and a
// loadable tarball. It needs no registry, no daemon and no base image.
//
//	go run ./scripts/image --binary bin/reactor-harness --out dist/image
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/reactor-harness/reactor-harness/internal/image"
)

func main() {
	var o image.Options
	var out string
	flag.StringVar(&o.Binary, "binary", "bin/reactor-harness", "static Linux reactor-harness binary")
	flag.StringVar(&out, "out", "dist/image", "output folder (oci/ layout and reactor-harness.tar)")
	flag.StringVar(&o.CACerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to include (\"\" for none)")
	flag.StringVar(&o.Version, "version", "", "version label (default: the binary's module version)")
	flag.StringVar(&o.Revision, "revision", "", "revision label (default: the binary's vcs.revision)")
	flag.StringVar(&o.Source, "source", "", "source label (default: https://<module path>)")
	flag.Parse()
	// SOURCE_DATE_EPOCH is the reproducible-builds convention for "the
	// time to stamp": the commit's time, not the build's.
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fatal(fmt.Errorf("SOURCE_DATE_EPOCH=%q: %w", s, err))
		}
		o.Created = time.Unix(sec, 0)
	}
	if o.CACerts != "" {
		if _, err := os.Stat(o.CACerts); err != nil {
			fatal(fmt.Errorf("--ca-certs: %w (pass --ca-certs= to build without CA certificates)", err))
		}
	}
	img, err := image.Build(o)
	if err != nil {
		fatal(err)
	}
	tarPath, err := img.Write(out)
	if err != nil {
		fatal(err)
	}
	digest, _ := img.Digest()
	fmt.Printf("image %s %s\n  OCI layout %s/oci\n  tarball    %s\n", img.Ref, digest, out, tarPath)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "image:", err)
	os.Exit(1)
}
