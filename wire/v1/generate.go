package wirev1

// Regenerate the .pb.go files from proto/ (see README.md). The generated code
// is committed so that building and CI never need protoc.
//go:generate protoc --proto_path=proto --go_out=. --go_opt=module=github.com/reactor-harness/reactor-harness/wire/v1 reactor_wire/v1/common.proto reactor_wire/v1/model.proto reactor_wire/v1/data.proto reactor_wire/v1/platform.proto reactor_wire/v1/track.proto reactor_wire/v1/control.proto
