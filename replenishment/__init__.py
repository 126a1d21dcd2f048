"""Replenishment: order-up-to policy, alerts, transfers between dealers, demand for the policy.

Pure pandas in, pandas out: nothing here touches the warehouse; `flows/` reads the marts through
`warehouse/` and stores the results. The closed-loop backtest lives in `simulation/`.
"""
