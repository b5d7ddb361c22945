package wirev1

import (
	"github.com/reactor-harness/reactor-harness/wire"
)

// Short names for the enum values every builder uses.
const (
	KindRequest      = MessageKind_MESSAGE_KIND_REQUEST
	KindResponse     = MessageKind_MESSAGE_KIND_RESPONSE
	KindNotification = MessageKind_MESSAGE_KIND_NOTIFICATION
)

// NewCommand builds a client command REQUEST on "data", as the reference
// client sends it: requestID is DataRequestID(n), data a JSON object, and
// uploads the FileRef arguments keyed by parameter name.
func NewCommand(requestID, typ string, data map[string]any, uploads map[string]wire.FileRef) (*DataClientMessage, error) {
	s, err := ToStruct(data)
	if err != nil {
		return nil, err
	}
	cmd := &Command{Type: typ, Data: s}
	if len(uploads) > 0 {
		cmd.Uploads = make(map[string]*UploadReference, len(uploads))
		for param, ref := range uploads {
			cmd.Uploads[param] = ToUploadReference(ref)
		}
	}
	return &DataClientMessage{
		RequestId: requestID,
		Kind:      KindRequest,
		Payload:   &DataClientMessage_Command{Command: cmd},
	}, nil
}

// NewAck builds the bodyless RESPONSE the runtime sends when a command
// handler returned nothing; a client resolves the command with no value.
func NewAck(requestID string) *DataServerMessage {
	return &DataServerMessage{RequestId: requestID, Kind: KindResponse}
}

// NewModelResponse builds a RESPONSE carrying the handler's ModelMessage.
func NewModelResponse(requestID, typ string, data map[string]any) (*DataServerMessage, error) {
	return newModelMessage(requestID, KindResponse, typ, data)
}

// NewModelNotification builds an unsolicited model emission: a NOTIFICATION
// with an empty request_id.
func NewModelNotification(typ string, data map[string]any) (*DataServerMessage, error) {
	return newModelMessage("", KindNotification, typ, data)
}

func newModelMessage(requestID string, kind MessageKind, typ string, data map[string]any) (*DataServerMessage, error) {
	s, err := ToStruct(data)
	if err != nil {
		return nil, err
	}
	return &DataServerMessage{
		RequestId: requestID,
		Kind:      kind,
		Payload:   &DataServerMessage_Message{Message: &ModelMessage{Type: typ, Data: s}},
	}, nil
}

// NewDataError builds the Error RESPONSE to a command, e.g.
// NewDataError("data_1", CodeInvalidCommand, "prompt: required").
func NewDataError(requestID, code, message string) *DataServerMessage {
	return &DataServerMessage{
		RequestId: requestID,
		Kind:      KindResponse,
		Payload:   &DataServerMessage_Error{Error: &Error{Code: code, Message: message}},
	}
}
