"""The market: prices, orders, the double-entry settlement ledger, joint products and valuation."""
