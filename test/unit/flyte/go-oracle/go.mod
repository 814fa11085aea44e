module flyteoracle

go 1.22

require (
	github.com/golang/protobuf v1.5.4
	google.golang.org/protobuf v1.36.5
)
