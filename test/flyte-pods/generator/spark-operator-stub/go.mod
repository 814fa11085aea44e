// A stand-in for github.com/kubeflow/spark-operator, which the Go module proxy does not serve.
// Only Flyte's Spark plugin imports it and the generator does not build that plugin; Go still
// needs a go.mod for every module in the graph, and this empty one is enough.
module github.com/kubeflow/spark-operator

go 1.24
