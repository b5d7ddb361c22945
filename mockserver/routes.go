package mockserver

// routes registers every route the mock serves. The pattern string doubles
// as the route's name in faults and in the journal.
func (s *Server) routes() {
	// Tokens (PROTOCOL.md §1.1).
	s.handle("POST /tokens", groupTokens, s.handleMintToken)
	s.handle("GET /tokens", groupTokens, s.handleLegacyToken)

	// Coordinator sessions (§1.2).
	s.handle("POST /sessions", groupCoordinator, s.handleCreateSession)
	s.handle("GET /sessions/{id}", groupCoordinator, s.handleGetSession)
	s.handle("GET /sessions/{id}/info", groupCoordinator, s.handleSessionInfo)
	s.handle("PUT /sessions/{id}", groupCoordinator, s.handleRestartSession)
	s.handle("DELETE /sessions/{id}", groupCoordinator, s.handleDeleteSession)

	// Uploads (§1.2).
	s.handle("POST /sessions/{id}/uploads", groupCoordinator, s.handleReserveUpload)
	s.handle("PUT /uploads/{upload_id}", groupUploadPut, s.handlePutUpload)

	// Pre-overhaul coordinator routes (§1.2 "Legacy coordinator endpoints").
	s.handle("GET /ice_servers", groupLegacy, s.handleLegacyIceServers)
	s.handle("GET /sessions/{id}/sdp_params", groupLegacy, s.handleLegacyGetSDP)
	s.handle("PUT /sessions/{id}/sdp_params", groupLegacy, s.handleLegacyPutSDP)

	// WebRTC transport signalling (§1.3; signalling.go): current generation
	// with connection registration, then the 2.9.0 paths without it.
	const tb = "/sessions/{id}/transport/webrtc"
	s.handle("GET "+tb+"/ice_servers", groupTransport, s.handleIceServers)
	s.handle("POST "+tb+"/connections", groupTransport, s.handleRegisterConnection)
	s.handle("POST "+tb+"/connections/{cid}/sdp_params", groupTransport, s.handleConnectionOffer)
	s.handle("PUT "+tb+"/connections/{cid}/sdp_params", groupTransport, s.handleConnectionOffer)
	s.handle("GET "+tb+"/connections/{cid}/sdp_params", groupTransport, s.handleConnectionAnswer)
	s.handle("POST "+tb+"/connections/{cid}/ice_candidates", groupTransport, s.handleIceCandidates)
	s.handle("POST "+tb+"/sdp_params", groupTransport, s.handleSingleOffer)
	s.handle("PUT "+tb+"/sdp_params", groupTransport, s.handleSingleOffer)
	s.handle("GET "+tb+"/sdp_params", groupTransport, s.handleSingleAnswer)

	s.localRoutes()
	s.adminRoutes()
	s.metricsRoute()
}
