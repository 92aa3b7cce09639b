"""lnplan.geo"""
