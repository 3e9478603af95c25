"""The policy service: the Rego decision point every other service defers to.

``api`` (gRPC servicer, OPA-compatible REST) → ``domain`` (bundles, signatures, engine
interface, decision points, hot reload, Rego unit tests) → ``adapters`` (bundle sources,
the regorus engine, remote OPA, the JetStream decision log).
"""
