"""Replenishment: order-up-to policy, alerts, transfers between dealers and the policy simulation.

Pure pandas in, pandas out: nothing here touches the warehouse; `flows/` reads the marts and
writes the results.
"""
