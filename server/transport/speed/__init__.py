"""Speed patches: each makes daphne, autobahn or Twisted faster and changes no
behaviour a client can see. Each is a mixin named in one base-class list
(``WebSocketProtocol``, ``Server``, ``TcpServer`` in the modules beside this
package), so an upgrade that breaks one drops it by deleting that base: the
service stays correct, only slower (bench/ measures by how much).
"""
