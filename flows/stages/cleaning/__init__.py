"""Helpers of the clean stage: text normalisation, boilerplate removal, datelines."""
