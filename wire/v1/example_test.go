package wirev1_test

import (
	"fmt"

	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
	wirev1 "github.com/reactor-harness/reactor-harness/wire/v1"
)

// A runtime-side peer latches the codec on the first inbound frame, then
// decodes a command and answers it in the same codec (v0 never answers
// commands; v1 acks them by request_id).
func Example_serverDataChannel() {
	reply := func(frame []byte, isText bool) {
		switch wirev0.Sniff(frame, isText) {
		case wirev0.V0:
			env, err := wirev0.DecodeEnvelope(frame)
			if err != nil {
				fmt.Println("v0 reject:", err)
				return
			}
			out, _ := wirev0.NewModelMessage("echo", env.Data.Data)
			fmt.Printf("v0 %s → %s\n", env.Data.Type, out)
		case wirev0.V1:
			msg, err := wirev1.DecodeDataClient(frame)
			if err != nil {
				fmt.Println("v1 reject:", err)
				return
			}
			cmd := msg.GetCommand()
			if cmd == nil {
				out, _ := wirev1.Marshal(wirev1.NewDataError(msg.GetRequestId(), wirev1.CodeInvalidCommand, "no command"))
				fmt.Printf("v1 error → % x\n", out)
				return
			}
			out, _ := wirev1.Marshal(wirev1.NewAck(msg.GetRequestId()))
			fmt.Printf("v1 %s %v → ack % x\n", cmd.GetType(), wirev1.FromStruct(cmd.GetData()), out)
		}
	}

	v0frame, _ := wirev0.NewCommand("set_prompt", map[string]any{"prompt": "a cat"}, nil)
	reply(v0frame, true)

	v1cmd, _ := wirev1.NewCommand(wirev1.DataRequestID(1), "set_prompt", map[string]any{"prompt": "a cat"}, nil)
	v1frame, _ := wirev1.Marshal(v1cmd)
	reply(v1frame, false)

	reply([]byte(`{"scope":"model","data":{}}`), true)
	// Output:
	// v0 set_prompt → {"scope":"application","data":{"type":"echo","data":{"prompt":"a cat"}}}
	// v1 set_prompt map[prompt:a cat] → ack 0a 06 64 61 74 61 5f 31 10 02
	// v0 reject: unknown scope: "model", want "application" or "runtime"
}
