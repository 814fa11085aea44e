// Command flyteoracle runs Flyte's own secret-annotation code paths
// (golang/protobuf v1 text format + Go's base32 with Flyte's alphabet) over
// JSON-lines cases, so the TypeScript decoder can be checked against the real
// thing. It is not part of the build; see README.md next to it.
package main

import (
	"bufio"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"

	"github.com/golang/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Same construction as flytepropeller pkg/utils/encoder.go.
var flyteBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz123456").WithPadding(base32.NoPadding)

type request struct {
	// Op is "parse" (Text -> fields), "print" (fields -> text + annotation)
	// or "base32" (Annotation -> bytes).
	Op         string `json:"op"`
	TextB64    string `json:"textB64,omitempty"`
	Annotation string `json:"annotation,omitempty"`
	Secret     *struct {
		Group, GroupVersion, Key, EnvVar string
		MountRequirement                 int32
	} `json:"secret,omitempty"`
}

type response struct {
	OK               bool   `json:"ok"`
	Error            string `json:"error,omitempty"`
	Panic            string `json:"panic,omitempty"`
	GroupB64         string `json:"groupB64,omitempty"`
	GroupVersionB64  string `json:"groupVersionB64,omitempty"`
	KeyB64           string `json:"keyB64,omitempty"`
	EnvVarB64        string `json:"envVarB64,omitempty"`
	MountRequirement int32  `json:"mountRequirement"`
	TextB64          string `json:"textB64,omitempty"`
	Annotation       string `json:"annotation,omitempty"`
	BytesB64         string `json:"bytesB64,omitempty"`
}

func secretDescriptor() protoreflect.MessageDescriptor {
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
	enm := descriptorpb.FieldDescriptorProto_TYPE_ENUM.Enum()
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	field := func(name string, num int32, typ *descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: &name, Number: &num, Type: typ, Label: opt}
		if typeName != "" {
			f.TypeName = &typeName
		}
		return f
	}
	enumValue := func(name string, num int32) *descriptorpb.EnumValueDescriptorProto {
		return &descriptorpb.EnumValueDescriptorProto{Name: &name, Number: &num}
	}
	fileName, pkg, syntax, msgName, enumName := "flyteidl/core/security.proto", "flyteidl.core", "proto3", "Secret", "MountType"
	fdp := &descriptorpb.FileDescriptorProto{
		Name: &fileName, Package: &pkg, Syntax: &syntax,
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: &msgName,
			Field: []*descriptorpb.FieldDescriptorProto{
				field("group", 1, str, ""),
				field("group_version", 2, str, ""),
				field("key", 3, str, ""),
				field("mount_requirement", 4, enm, ".flyteidl.core.Secret.MountType"),
				field("env_var", 5, str, ""),
			},
			EnumType: []*descriptorpb.EnumDescriptorProto{{
				Name:  &enumName,
				Value: []*descriptorpb.EnumValueDescriptorProto{enumValue("ANY", 0), enumValue("ENV_VAR", 1), enumValue("FILE", 2)},
			}},
		}},
	}
	fd, err := protodesc.NewFile(fdp, nil)
	if err != nil {
		panic(err)
	}
	return fd.Messages().Get(0)
}

var md = secretDescriptor()

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func handle(req request) (res response) {
	defer func() {
		if r := recover(); r != nil {
			res = response{Panic: fmt.Sprint(r)}
		}
	}()
	fields := md.Fields()
	switch req.Op {
	case "parse":
		text, err := base64.StdEncoding.DecodeString(req.TextB64)
		if err != nil {
			panic(err)
		}
		m := dynamicpb.NewMessage(md)
		if err := proto.UnmarshalText(string(text), m); err != nil {
			return response{Error: err.Error()}
		}
		return response{
			OK:               true,
			GroupB64:         b64(m.Get(fields.ByName("group")).String()),
			GroupVersionB64:  b64(m.Get(fields.ByName("group_version")).String()),
			KeyB64:           b64(m.Get(fields.ByName("key")).String()),
			EnvVarB64:        b64(m.Get(fields.ByName("env_var")).String()),
			MountRequirement: int32(m.Get(fields.ByName("mount_requirement")).Enum()),
		}
	case "print":
		m := dynamicpb.NewMessage(md)
		s := req.Secret
		m.Set(fields.ByName("group"), protoreflect.ValueOfString(s.Group))
		m.Set(fields.ByName("group_version"), protoreflect.ValueOfString(s.GroupVersion))
		m.Set(fields.ByName("key"), protoreflect.ValueOfString(s.Key))
		m.Set(fields.ByName("env_var"), protoreflect.ValueOfString(s.EnvVar))
		m.Set(fields.ByName("mount_requirement"), protoreflect.ValueOfEnum(protoreflect.EnumNumber(s.MountRequirement)))
		text := proto.MarshalTextString(m)
		return response{OK: true, TextB64: b64(text), Annotation: flyteBase32.EncodeToString([]byte(text))}
	case "base32":
		b, err := flyteBase32.DecodeString(req.Annotation)
		if err != nil {
			return response{Error: err.Error()}
		}
		return response{OK: true, BytesB64: base64.StdEncoding.EncodeToString(b)}
	}
	panic("unknown op " + req.Op)
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			panic(err)
		}
		if err := out.Encode(handle(req)); err != nil {
			panic(err)
		}
	}
	if err := in.Err(); err != nil {
		panic(err)
	}
}
