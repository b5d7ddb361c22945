package wirev1

import "strconv"

// Error.code values the runtime sends (PROTOCOL.md §3.3). A model may add
// its own codes; clients must pass unknown codes through.
const (
	CodeInvalidCommand   = "invalid_command"   // command failed contract validation
	CodeUnresolvedUpload = "unresolved_upload" // an uploads entry names no finished upload
	CodeInternalError    = "internal_error"    // the model's handler raised
	CodePublishRefused   = "publish_refused"   // publish_track refused
)

// Request-id prefixes of the reference client: commands on "data" and
// requests on "control" count separately.
const (
	DataRequestPrefix    = "data_"
	ControlRequestPrefix = "ctrl_"
)

// DataRequestID returns the n-th command request id, "data_<n>".
func DataRequestID(n uint64) string {
	return DataRequestPrefix + strconv.FormatUint(n, 10)
}

// ControlRequestID returns the n-th control request id, "ctrl_<n>".
func ControlRequestID(n uint64) string {
	return ControlRequestPrefix + strconv.FormatUint(n, 10)
}
