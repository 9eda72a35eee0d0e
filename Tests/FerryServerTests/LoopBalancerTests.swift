@testable import FerryServer
import Testing

@Suite struct LoopBalancerTests {
    @Test func aBurstOnOneLoopAlternatesAndTiesStayWhereAccepted() {
        let balancer = LoopBalancer(loops: 2)
        // Every connection accepted by loop 0, as SO_REUSEPORT's hash may do.
        #expect((0..<6).map { _ in balancer.assign(accepting: 0) } == [0, 1, 0, 1, 0, 1])
        #expect(balancer.connections == [3, 3])
        #expect(balancer.assign(accepting: 1) == 1)
    }

    @Test func closedConnectionsMakeRoom() {
        let balancer = LoopBalancer(loops: 3)
        for _ in 0..<6 { _ = balancer.assign(accepting: 2) }
        #expect(balancer.connections == [2, 2, 2])
        balancer.release(1)
        balancer.release(1)
        #expect(balancer.assign(accepting: 0) == 1)
        #expect(balancer.assign(accepting: 2) == 1)
        #expect(balancer.connections == [2, 2, 2])
    }
}
