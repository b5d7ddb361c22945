package wire

// ErrorBody is the platform's error shape: {"detail": "..."} (PROTOCOL.md §1.0).
type ErrorBody struct {
	Detail string `json:"detail"`
}

// SDK-facing error codes from the status mapping of PROTOCOL.md §1.0. The
// suites use them to name what a client should surface for a given status.
const (
	CodeUnauthorized    = "UNAUTHORIZED"
	CodeNotFound        = "NOT_FOUND"
	CodeConflict        = "CONFLICT"
	CodeVersionMismatch = "VERSION_MISMATCH"
	CodeRateLimited     = "RATE_LIMITED"
	CodeBadRequest      = "BAD_REQUEST"
	CodeServerError     = "SERVER_ERROR"
)

// CodeForStatus maps an HTTP status to the error code a current SDK raises.
func CodeForStatus(status int) string {
	switch {
	case status == 401 || status == 403:
		return CodeUnauthorized
	case status == 404:
		return CodeNotFound
	case status == 409:
		return CodeConflict
	case status == 426 || status == 501:
		return CodeVersionMismatch
	case status == 429:
		return CodeRateLimited
	case status >= 400 && status < 500:
		return CodeBadRequest
	case status >= 500:
		return CodeServerError
	}
	return ""
}
