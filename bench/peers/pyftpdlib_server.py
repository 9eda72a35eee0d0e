"""pyftpdlib configured for ftpbench: system users (crypt(3) via UnixAuthorizer), sendfile on, FTPS
offered (AUTH TLS optional, as for every server in the comparison), no connection limits, quiet
logging. Usage: pyftpdlib_server.py PORT PASSIVE_LO PASSIVE_HI CERT KEY"""
import logging
import sys

from pyftpdlib.authorizers import UnixAuthorizer
from pyftpdlib.filesystems import UnixFilesystem
from pyftpdlib.handlers import TLS_FTPHandler
from pyftpdlib.servers import FTPServer

port, low, high = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
logging.basicConfig(level=logging.WARNING)
handler = TLS_FTPHandler
handler.certfile = sys.argv[4]
handler.keyfile = sys.argv[5]
handler.tls_control_required = False
handler.tls_data_required = False
handler.authorizer = UnixAuthorizer(rejected_users=["root"], require_valid_shell=False, anonymous_user=None)
handler.abstracted_fs = UnixFilesystem
handler.use_sendfile = True
handler.passive_ports = range(low, high)
handler.banner = "pyftpdlib ready"
server = FTPServer(("127.0.0.1", port), handler)
server.max_cons = 0
server.max_cons_per_ip = 0
server.serve_forever()
