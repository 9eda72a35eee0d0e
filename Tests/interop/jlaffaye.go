// The scenario of Tests/interop/run with Go's github.com/jlaffaye/ftp (rclone's FTP back end uses it):
// mkdir, 3 MB upload, download and compare, resumed upload and download, list, rename, size,
// delete, rmdir; plain or explicit TLS (resuming the control session, as rclone does).
package main

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/jlaffaye/ftp"
)

func check(step string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL %s: %v\n", step, err)
		os.Exit(1)
	}
}

func retrieve(c *ftp.ServerConn, path string, offset uint64) []byte {
	r, err := c.RetrFrom(path, offset)
	check("RETR "+path, err)
	data, err := io.ReadAll(r)
	check("read "+path, err)
	check("close RETR "+path, r.Close())
	return data
}

func main() {
	host, port, user, password, mode := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	options := []ftp.DialOption{ftp.DialWithTimeout(20 * time.Second)}
	if mode == "tls" {
		// As rclone sets it up: a session cache keyed by the server name (not the address, which
		// differs per data port), so data connections resume the control connection's session.
		options = append(options, ftp.DialWithExplicitTLS(&tls.Config{
			ServerName:         host,
			InsecureSkipVerify: true, // the test's self-signed certificate
			ClientSessionCache: tls.NewLRUClientSessionCache(16),
		}))
	}
	c, err := ftp.Dial(net.JoinHostPort(host, port), options...)
	check("connect", err)
	check("login", c.Login(user, password))
	payload := make([]byte, 3_000_000)
	for i := range payload {
		payload[i] = byte(i*7 + i/251)
	}
	dir := "go-" + mode
	check("MKD", c.MakeDir(dir))
	check("CWD", c.ChangeDir(dir))
	check("STOR", c.Stor("up.bin", bytes.NewReader(payload)))
	if got := retrieve(c, "up.bin", 0); !bytes.Equal(got, payload) {
		check("compare", fmt.Errorf("downloaded %d bytes, differ from the %d uploaded", len(got), len(payload)))
	}
	check("STOR part", c.Stor("resumed.bin", bytes.NewReader(payload[:1_000_000])))
	check("REST+STOR", c.StorFrom("resumed.bin", bytes.NewReader(payload[1_000_000:]), 1_000_000))
	if got := retrieve(c, "resumed.bin", 2_000_000); !bytes.Equal(got, payload[2_000_000:]) {
		check("compare resumed", fmt.Errorf("REST 2000000 got %d bytes that differ", len(got)))
	}
	entries, err := c.List(".")
	check("LIST", err)
	if len(entries) != 2 {
		check("LIST", fmt.Errorf("expected 2 entries, got %d", len(entries)))
	}
	check("RNFR/RNTO", c.Rename("up.bin", "renamed.bin"))
	size, err := c.FileSize("renamed.bin")
	check("SIZE", err)
	if size != int64(len(payload)) {
		check("SIZE", fmt.Errorf("%d, want %d", size, len(payload)))
	}
	check("DELE", c.Delete("renamed.bin"))
	check("DELE", c.Delete("resumed.bin"))
	check("CDUP", c.ChangeDirToParent())
	check("RMD", c.RemoveDir(dir))
	check("QUIT", c.Quit())
	fmt.Println("ok jlaffaye/ftp", mode)
}
