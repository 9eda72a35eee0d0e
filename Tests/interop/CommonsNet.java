// The scenario of Tests/interop/run with Apache commons-net's FTPClient/FTPSClient (JDK 17): mkdir,
// 3 MB upload, download and compare, resumed upload and download, list, rename, size, delete, rmdir,
// and six more TLS data connections (Java uses each TLS 1.3 ticket once). Plain or explicit TLS, with
// the session-reuse hook commons-net users add so that data connections resume the control session.
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.net.Socket;
import java.util.Arrays;
import java.util.Locale;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSessionContext;
import javax.net.ssl.SSLSocket;
import org.apache.commons.net.ftp.FTP;
import org.apache.commons.net.ftp.FTPClient;
import org.apache.commons.net.ftp.FTPSClient;
import org.apache.commons.net.util.TrustManagerUtils;

public class CommonsNet {
    /**
     * JSSE caches client sessions by host and port, and a data connection goes to another port. The
     * usual hook copies the control connection's session to the data connection's key. Under TLS 1.3
     * the resumable session is the one the server's latest ticket made (cached under the control
     * connection's key), and JSSE uses each once: so that one is copied, and the server must send a
     * fresh ticket after each data connection for the next to resume.
     */
    static final class ReusingFTPSClient extends FTPSClient {
        ReusingFTPSClient() {
            super("TLS", false);
            setTrustManager(TrustManagerUtils.getAcceptAllTrustManager()); // the test's self-signed certificate
        }

        private static String key(Socket socket) {
            return (socket.getInetAddress().getHostAddress() + ":" + socket.getPort()).toLowerCase(Locale.ROOT);
        }

        @Override
        protected void _prepareDataSocket_(Socket socket) throws IOException {
            if (!(socket instanceof SSLSocket)) return;
            SSLSession session = ((SSLSocket) _socket_).getSession();
            if (!session.isValid()) return;
            SSLSessionContext context = session.getSessionContext();
            try {
                Field field = context.getClass().getDeclaredField("sessionHostPortCache");
                field.setAccessible(true);
                Object cache = field.get(context);
                Method get = cache.getClass().getDeclaredMethod("get", Object.class);
                Method put = cache.getClass().getDeclaredMethod("put", Object.class, Object.class);
                get.setAccessible(true);
                put.setAccessible(true);
                Object ticket = get.invoke(cache, key(_socket_));
                put.invoke(cache, key(socket), ticket != null ? ticket : session);
            } catch (ReflectiveOperationException e) {
                throw new IOException("session reuse hook: " + e, e);
            }
        }
    }

    static void check(boolean ok, FTPClient client, String step) {
        if (!ok) throw new IllegalStateException(step + " failed: " + client.getReplyString().trim());
    }

    static byte[] retrieve(FTPClient client, String path, long offset) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        client.setRestartOffset(offset);
        check(client.retrieveFile(path, out), client, "RETR " + path);
        return out.toByteArray();
    }

    public static void main(String[] args) throws Exception {
        String host = args[0], user = args[2], password = args[3], mode = args[4];
        int port = Integer.parseInt(args[1]);
        FTPClient client = mode.equals("tls") ? new ReusingFTPSClient() : new FTPClient();
        client.setConnectTimeout(20_000);
        client.setDefaultTimeout(20_000);
        client.connect(host, port);
        if (client instanceof FTPSClient) {
            ((FTPSClient) client).execPBSZ(0);
            ((FTPSClient) client).execPROT("P");
        }
        check(client.login(user, password), client, "login");
        client.enterLocalPassiveMode();
        check(client.setFileType(FTP.BINARY_FILE_TYPE), client, "TYPE I");
        byte[] payload = new byte[3_000_000];
        for (int i = 0; i < payload.length; i++) payload[i] = (byte) (i * 7 + i / 251);
        String dir = "java-" + mode;
        check(client.makeDirectory(dir), client, "MKD");
        check(client.changeWorkingDirectory(dir), client, "CWD");
        check(client.storeFile("up.bin", new ByteArrayInputStream(payload)), client, "STOR");
        check(Arrays.equals(retrieve(client, "up.bin", 0), payload), client, "compare");
        check(client.storeFile("resumed.bin", new ByteArrayInputStream(payload, 0, 1_000_000)), client, "STOR part");
        client.setRestartOffset(1_000_000);
        check(client.storeFile("resumed.bin", new ByteArrayInputStream(payload, 1_000_000, 2_000_000)), client, "REST+STOR");
        check(Arrays.equals(retrieve(client, "resumed.bin", 2_000_000), Arrays.copyOfRange(payload, 2_000_000, 3_000_000)), client,
              "compare resumed");
        for (int round = 0; round < 6; round++) {
            check(client.listFiles().length == 2, client, "LIST " + round);
        }
        check(client.rename("up.bin", "renamed.bin"), client, "RNFR/RNTO");
        check(client.getSize("renamed.bin").equals("3000000"), client, "SIZE");
        check(client.deleteFile("renamed.bin"), client, "DELE");
        check(client.deleteFile("resumed.bin"), client, "DELE");
        check(client.changeToParentDirectory(), client, "CDUP");
        check(client.removeDirectory(dir), client, "RMD");
        check(client.logout(), client, "QUIT");
        client.disconnect();
        System.out.println("ok commons-net " + mode);
    }
}
