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

	s.adminRoutes()
}
