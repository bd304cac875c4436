// Package deploy tests vproc's deployment for real: it builds the image of
// deploy/Dockerfile, brings up the three-node cluster of
// deploy/docker-compose.yml, drives it with the vproc command line from
// the host, kills and restarts the leader's container, and tears
// everything down.
//
// It needs a Docker engine and docker-compose (or the compose plugin), and
// runs only when asked (make deploy-test):
//
//	go test ./test/deploy -run TestCompose -v -args -deploy.run
//
// Every run uses its own compose project, image tag and free loopback
// ports, and removes them when it ends, after a failure or an interrupt
// too. What a killed run leaves behind is removed by
//
//	go test ./test/deploy -run TestCleanup -args -deploy.cleanup
package deploy
