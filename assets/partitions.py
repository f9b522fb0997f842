"""Reporting years: one partition per year found in the landing zone."""

import dagster as dg

reporting_year = dg.DynamicPartitionsDefinition(name="reporting_year")
