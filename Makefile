.PHONY: run test build

# Runs the server on the embedded store with the example templates.
run:
	go run ./cmd/utask

# Runs every test.
test:
	./hack/test.sh

build:
	CGO_ENABLED=0 go build -o bin/utask ./cmd/utask
