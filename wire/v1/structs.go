package wirev1

import (
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/reactor-harness/reactor-harness/wire"
)

// ToStruct converts a JSON object to a Struct. Values structpb accepts
// directly (nil, bool, numbers, string, []any, map[string]any) are converted
// as they are; anything else (typed slices, nested structs) goes through
// encoding/json first. A nil map gives an empty, present Struct because
// command and message data is always a JSON object on the wire.
//
// Struct numbers are float64: integers beyond ±2^53 lose precision, as they
// do in every JSON peer.
func ToStruct(m map[string]any) (*structpb.Struct, error) {
	if s, err := structpb.NewStruct(m); err == nil {
		return s, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("wirev1: data is not JSON: %w", err)
	}
	var generic map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		return nil, fmt.Errorf("wirev1: data is not JSON: %w", err)
	}
	s, err := structpb.NewStruct(generic)
	if err != nil {
		return nil, fmt.Errorf("wirev1: data: %w", err)
	}
	return s, nil
}

// FromStruct converts a Struct to a map; a nil Struct gives an empty map so
// callers can always re-encode it as {}.
func FromStruct(s *structpb.Struct) map[string]any {
	if s == nil {
		return map[string]any{}
	}
	return s.AsMap()
}

// ToUploadReference converts the JSON FileRef to its protobuf form.
func ToUploadReference(ref wire.FileRef) *UploadReference {
	return &UploadReference{UploadId: ref.UploadID, Name: ref.Name, MimeType: ref.MimeType, Size: ref.Size}
}

// ToFileRef converts an UploadReference back to the JSON FileRef.
func ToFileRef(ref *UploadReference) wire.FileRef {
	return wire.FileRef{UploadID: ref.GetUploadId(), Name: ref.GetName(), MimeType: ref.GetMimeType(), Size: ref.GetSize()}
}
