"""Alerts in: receivers' payloads normalised into `Alert`s, grouped into incidents, routed to a
channel, triaged automatically under the policy, and resolved when every alert is."""
