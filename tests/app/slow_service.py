#!/usr/bin/python3
"""A deliberately slow stand-in for nfltr-service, for the app's responsiveness test.

Owns xyz.nfltr.Nfltr.Service on $NFLTR_SERVICE_BUS_ADDRESS and answers every method call to
it — Properties.GetAll, ObjectManager.GetManagedObjects, Tunnel.Start/Stop — only after
--delay seconds. A GDBus message filter takes each call off the connection before GDBus sees
it and a timer thread sends the reply later, so nothing here blocks and the delay is exact.
Prints "ready" once it owns the name.
"""
import argparse
import os
import sys
import threading

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

NAME = "xyz.nfltr.Nfltr.Service"
ROOT = "/xyz/nfltr/Nfltr"
MANAGER = "xyz.nfltr.Nfltr.Manager"
TUNNEL = "xyz.nfltr.Nfltr.Tunnel"
PROPS = "org.freedesktop.DBus.Properties"
OM = "org.freedesktop.DBus.ObjectManager"


def manager_props():
    return {
        "Version": GLib.Variant("s", "0.1.0-slow"),
        "RelayAddress": GLib.Variant("s", "nfltr.localhost:8443"),
        "RelayFingerprint": GLib.Variant("s", "sha256:" + "ab" * 32),
        "RelayState": GLib.Variant("s", "connected"),
        "RelayError": GLib.Variant("s", ""),
        "RelayDomain": GLib.Variant("s", "nfltr.localhost"),
    }


class Fake:
    def __init__(self, delay, count):
        self.delay = delay
        self.tunnels = {}
        for i in range(count):
            tid = f"slow{i:02d}"
            self.tunnels[f"{ROOT}/tunnels/{tid}"] = {
                "Id": GLib.Variant("s", tid),
                "Name": GLib.Variant("s", f"slow-{i:02d}"),
                "Kind": GLib.Variant("s", "http"),
                "Target": GLib.Variant("s", f"127.0.0.1:{3000 + i}"),
                "PublicUrl": GLib.Variant("s", f"https://slow-{i:02d}.nfltr.localhost:8443"),
                "Mode": GLib.Variant("s", "verified" if i % 3 else "inspectable"),
                "Fingerprint": GLib.Variant("s", "sha256:" + f"{i:02x}" * 32),
                "State": GLib.Variant("s", "online"),
                "LastError": GLib.Variant("s", ""),
                "Transient": GLib.Variant("b", False),
                "ActiveConnections": GLib.Variant("u", i % 4),
                "TotalConnections": GLib.Variant("t", 10 * i),
                "BytesIn": GLib.Variant("t", 1000 * i),
                "BytesOut": GLib.Variant("t", 250000 * i),
                "OnlineSince": GLib.Variant("t", 1700000000),
            }
        address = os.environ["NFLTR_SERVICE_BUS_ADDRESS"]
        self.conn = Gio.DBusConnection.new_for_address_sync(
            address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.unique = self.conn.get_unique_name()
        self.conn.add_filter(self.filter)
        r = self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                "org.freedesktop.DBus", "RequestName",
                                GLib.Variant("(su)", (NAME, 4)), None, 0, -1, None)
        assert r.unpack()[0] == 1, "could not own the name"

    def filter(self, conn, message, incoming):
        if not incoming or message.get_message_type() != Gio.DBusMessageType.METHOD_CALL:
            return message
        if message.get_destination() not in (NAME, self.unique):
            return message
        threading.Timer(self.delay, self.answer, args=(message,)).start()
        return None

    def answer(self, msg):
        iface, member, path = msg.get_interface(), msg.get_member(), msg.get_path()
        body = msg.get_body()
        reply = Gio.DBusMessage.new_method_reply(msg)
        signal = None
        if iface == PROPS and member == "GetAll":
            target = body.unpack()[0]
            props = manager_props() if target == MANAGER else self.tunnels.get(path, {})
            reply.set_body(GLib.Variant("(a{sv})", (props,)))
        elif iface == OM and member == "GetManagedObjects":
            objs = {p: {TUNNEL: t} for p, t in self.tunnels.items()}
            reply.set_body(GLib.Variant("(a{oa{sa{sv}}})", (objs,)))
        elif iface == MANAGER and member == "ListTunnels":
            reply.set_body(GLib.Variant("(ao)", (list(self.tunnels),)))
        elif iface == TUNNEL and member in ("Start", "Stop") and path in self.tunnels:
            state = "online" if member == "Start" else "stopped"
            self.tunnels[path]["State"] = GLib.Variant("s", state)
            signal = (path, {"State": GLib.Variant("s", state)})
        else:
            reply = Gio.DBusMessage.new_method_error_literal(
                msg, "org.freedesktop.DBus.Error.UnknownMethod", f"{iface}.{member} not faked")
        self.conn.send_message(reply, Gio.DBusSendMessageFlags.NONE)
        if signal:
            self.conn.emit_signal(None, signal[0], PROPS, "PropertiesChanged",
                                  GLib.Variant("(sa{sv}as)", (TUNNEL, signal[1], [])))
        print(f"answered {iface}.{member} {path}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--delay", type=float, default=5.0)
    ap.add_argument("--tunnels", type=int, default=3)
    args = ap.parse_args()
    Fake(args.delay, args.tunnels)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    sys.exit(main())
