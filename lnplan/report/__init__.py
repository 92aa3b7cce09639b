"""lnplan.report"""
