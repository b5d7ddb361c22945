package wire

// Header names the protocol uses (PROTOCOL.md §1.0, §1.1).
const (
	HeaderAuthorization     = "Authorization"
	HeaderAPIKey            = "Reactor-API-Key" // POST /tokens (current)
	HeaderLegacyAPIKey      = "X-API-Key"       // GET /tokens (removed flow)
	HeaderAPIVersion        = "Reactor-API-Version"
	HeaderAPIAcceptVersion  = "Reactor-API-Accept-Version"
	HeaderWebRTCVersion     = "Reactor-WebRTC-Version"
	HeaderRetryAfter        = "Retry-After"
	HeaderContentType       = "Content-Type"
	HeaderContentLength     = "Content-Length"
	ContentTypeJSON         = "application/json"
	ContentTypeOctetStream  = "application/octet-stream"
	BearerPrefix            = "Bearer "
	APIKeyPrefix            = "rk_"
	CurrentAPIVersion       = 1     // Reactor-API-Version sent by current SDKs
	CurrentWebRTCVersion    = "1.0" // Reactor-WebRTC-Version sent by current SDKs
	TransportProtocolWebRTC = "webrtc"
)
