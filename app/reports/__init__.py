"""Statistics (S2-S4): summary tables rolled up from the calls, ready-made and custom
reports, the dashboard, exports."""
